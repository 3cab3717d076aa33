import { render } from "preact";
import { ComparePage } from "./compare";
import { RunPage } from "./run";
import { RunsTable } from "./runs";
import { hrefFor, useRoute } from "./route";
import "./style.css";

function App() {
  const route = useRoute();
  const [page, id] = route.path;
  return (
    <>
      <header>
        <a class="brand" href={hrefFor([])}>
          runlane
        </a>
      </header>
      <main>
        {page === "run" && id ? (
          <RunPage id={id} route={route} />
        ) : page === "compare" ? (
          <ComparePage route={route} />
        ) : (
          <RunsTable route={route} />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
