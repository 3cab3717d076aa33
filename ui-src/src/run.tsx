// The run page: a header (name, status, project, times) over tabs — overview, params, charts,
// logs, events, tracks, system, artifacts, assets, models, lineage (modules in ./run/). The tab
// is in the URL. While the run is running the page polls it every POLL_MS; each poll bumps
// `tick`, and the open tab fetches only what is new (rows after the last index, lines after the
// last sequence number; the artifacts and assets tabs re-read their lists, the models and
// lineage tabs load once). Polling stops once the run has ended.
import { useEffect, useState } from "preact/hooks";
import { api, StreamInfo } from "./api";
import { duration, fmtDuration, fmtTime } from "./format";
import { hrefFor, Route, setQuery } from "./route";
import { RunDetail, runApi } from "./run/api";
import { Artifacts } from "./run/artifacts";
import { Assets } from "./run/assets";
import { ChartsPanel } from "./run/charts";
import { Events } from "./run/events";
import { Lineage } from "./run/lineage";
import { Logs } from "./run/logs";
import { Models } from "./run/models";
import { Overview } from "./run/overview";
import { Params } from "./run/params";
import { SYSTEM_STREAM, System } from "./run/system";
import { Tracks } from "./run/tracks";

export const POLL_MS = 2000;
const TABS = ["overview", "params", "charts", "logs", "events", "tracks", "system", "artifacts", "assets", "models", "lineage"] as const;
type Tab = (typeof TABS)[number];

export function RunPage({ id, route }: { id: string; route: Route }) {
  const asked = route.query.get("tab") as Tab | null;
  const tab: Tab = asked && TABS.includes(asked) ? asked : "charts";
  const [run, setRun] = useState<RunDetail | null>(null);
  const [streams, setStreams] = useState<StreamInfo[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const running = run?.status === "running";

  useEffect(() => {
    setError(null);
    setRun(null);
    setTick(0);
    runApi.run(id).then(setRun, (e: Error) => setError(e.message));
    api.streams(id).then(
      (s) => setStreams(s.streams),
      (e: Error) => setError(e.message),
    );
  }, [id]);

  useEffect(() => {
    if (!running) return;
    let timer = 0;
    let live = true;
    const poll = () => {
      Promise.all([runApi.run(id), api.streams(id)])
        .then(([r, s]) => {
          if (!live) return;
          setRun(r);
          setStreams(s.streams);
          setTick((t) => t + 1);
        })
        .catch(() => undefined) // the next poll tries again
        .finally(() => {
          if (live) timer = window.setTimeout(poll, POLL_MS);
        });
    };
    timer = window.setTimeout(poll, POLL_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [id, running]);

  const select = (t: Tab) => setQuery(route, { tab: t });
  const onTabKey = (e: KeyboardEvent, i: number) => {
    const move = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
    if (!move) return;
    const next = (i + move + TABS.length) % TABS.length;
    (document.getElementById(`tab-${TABS[next]}`) as HTMLButtonElement | null)?.focus();
  };

  return (
    <section class="run" data-live={running ? "1" : "0"} data-tick={tick}>
      <p>
        <a href={hrefFor([])}>← runs</a>
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {run && (
        <div class="run-header">
          <h1>
            {run.name} <span class={"status " + run.status}>{run.status}</span>
          </h1>
          <p class="muted">
            {run.owner}/{run.project} · {run.id} · created {fmtTime(run.createdAt)} · {fmtDuration(duration(run))}
            {running && <span class="live-dot"> · live</span>}
          </p>
        </div>
      )}
      <div class="tabs" role="tablist" aria-label="run sections">
        {TABS.map((t, i) => (
          <button
            type="button"
            role="tab"
            id={`tab-${t}`}
            key={t}
            data-tab={t}
            aria-selected={t === tab}
            aria-controls="run-panel"
            onClick={() => select(t)}
            onKeyDown={(e) => onTabKey(e, i)}
          >
            {t}
          </button>
        ))}
      </div>
      <div class="tab-panel" id="run-panel" role="tabpanel" aria-labelledby={`tab-${tab}`} data-tab={tab}>
        {run && <Panel tab={tab} run={run} streams={streams} route={route} tick={tick} onRun={setRun} />}
      </div>
    </section>
  );
}

interface PanelProps {
  tab: Tab;
  run: RunDetail;
  streams: StreamInfo[];
  route: Route;
  tick: number;
  onRun: (run: RunDetail) => void;
}

function Panel({ tab, run, streams, route, tick, onRun }: PanelProps) {
  const running = run.status === "running";
  switch (tab) {
    case "overview":
      return <Overview run={run} onChange={onRun} />;
    case "params":
      return <Params id={run.id} route={route} />;
    case "logs":
      return <Logs id={run.id} route={route} tick={tick} running={running} />;
    case "events":
      return <Events id={run.id} createdAt={run.createdAt} tick={tick} />;
    case "tracks":
      return <Tracks id={run.id} route={route} tick={tick} />;
    case "artifacts":
      return <Artifacts id={run.id} route={route} tick={tick} />;
    case "assets":
      return <Assets id={run.id} route={route} tick={tick} />;
    case "models":
      return <Models id={run.id} owner={run.owner} project={run.project} />;
    case "lineage":
      return <Lineage id={run.id} route={route} />;
    case "system":
      return <System runId={run.id} runName={run.name} createdAt={run.createdAt} streams={streams} route={route} tick={tick} />;
    default:
      return (
        <ChartsPanel
          runId={run.id}
          runName={run.name}
          createdAt={run.createdAt}
          streams={streams.filter((s) => s.name !== SYSTEM_STREAM)}
          route={route}
          tick={tick}
          xParam="x"
          axes={["step", "wallclock", "relative"]}
          defaultAxis="step"
          fieldAxes
          empty="No metrics logged."
        />
      );
  }
}
