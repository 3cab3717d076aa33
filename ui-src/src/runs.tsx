// The runs table: server-side filter (the CLI's filter language) and sort, state in the URL hash.
import { useEffect, useState } from "preact/hooks";
import { api, RunInfo } from "./api";
import { duration, fmtDuration, fmtTime, fmtValue } from "./format";
import { hrefFor, Route, setQuery } from "./route";

const ENRICH = 50; // rows whose params and last metric values are fetched

interface Extra {
  params: Record<string, unknown>;
  metrics: Record<string, number | null>;
}

export function RunsTable({ route }: { route: Route }) {
  const where = route.query.get("where") ?? "";
  const sort = route.query.get("sort") ?? "-created";
  const colsText = route.query.get("cols");
  const [runs, setRuns] = useState<RunInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [draft, setDraft] = useState(where);
  const [extras, setExtras] = useState<Record<string, Extra>>({});
  const [autoCols, setAutoCols] = useState<string[]>([]);

  useEffect(() => setDraft(where), [where]);
  useEffect(() => {
    let live = true;
    setError(null);
    api
      .runs(where, sort)
      .then((r) => live && setRuns(r.runs))
      .catch((e: Error) => {
        if (!live) return;
        setRuns([]);
        setError(e.message);
      });
    return () => {
      live = false;
    };
  }, [where, sort]);

  useEffect(() => {
    if (!runs) return;
    let live = true;
    const shown = runs.slice(0, ENRICH);
    Promise.all(
      shown.map(async (run) => {
        const [p, s] = await Promise.all([
          api.params(run.id).catch(() => ({ data: {} })),
          api.stats(run.id, "default").catch(() => ({ count: 0, fields: {} })),
        ]);
        const metrics: Record<string, number | null> = {};
        for (const [k, v] of Object.entries(s.fields)) if (!k.startsWith("_")) metrics[k] = v.last;
        return [run.id, { params: p.data, metrics }] as const;
      }),
    ).then((pairs) => {
      if (!live) return;
      setExtras(Object.fromEntries(pairs));
      const params = new Set<string>();
      const metrics = new Set<string>();
      for (const [, e] of pairs) {
        Object.keys(e.params).forEach((k) => params.add(k));
        Object.keys(e.metrics).forEach((k) => metrics.add(k));
      }
      setAutoCols([
        ...[...params].slice(0, 3).map((k) => "params." + k),
        ...[...metrics].slice(0, 3).map((k) => "metrics." + k),
      ]);
    });
    return () => {
      live = false;
    };
  }, [runs]);

  const cols = colsText != null ? colsText.split(",").filter(Boolean) : autoCols;
  const header = (label: string, key: string | null) => {
    if (key == null) return <th>{label}</th>;
    const active = sort === key || sort === "-" + key;
    const next = sort === key ? "-" + key : key;
    const arrow = active ? (sort.startsWith("-") ? " ▼" : " ▲") : "";
    return (
      <th class="sortable" aria-sort={active ? (sort.startsWith("-") ? "descending" : "ascending") : "none"}>
        <button type="button" data-sort={key} onClick={() => setQuery(route, { sort: next })}>
          {label}
          {arrow}
        </button>
      </th>
    );
  };

  return (
    <section>
      <form
        class="filter"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery(route, { where: draft.trim() });
        }}
      >
        <input
          type="search"
          name="where"
          aria-label="filter"
          placeholder="filter, e.g. params.lr < 0.01 and status = 'succeeded'"
          value={draft}
          onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Filter</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {runs == null ? (
        <p class="muted">Loading…</p>
      ) : (
        <table class="runs" data-count={runs.length}>
          <thead>
            <tr>
              {header("Status", "status")}
              {header("Name", "name")}
              {header("Tags", null)}
              {header("Created", "created")}
              {header("Duration", null)}
              {cols.map((c) => header(c, c))}
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => {
              const extra = extras[run.id];
              return (
                <tr key={run.id} data-run={run.id}>
                  <td>
                    <span class={"status " + run.status}>{run.status}</span>
                  </td>
                  <td>
                    <a href={hrefFor(["run", run.id])}>{run.name}</a>
                    <div class="muted small">
                      {run.owner}/{run.project}
                    </div>
                  </td>
                  <td>
                    {run.tags.map((t) => (
                      <span class="tag" key={t}>
                        {t}
                      </span>
                    ))}
                  </td>
                  <td>{fmtTime(run.createdAt)}</td>
                  <td>{fmtDuration(duration(run))}</td>
                  {cols.map((c) => {
                    const [kind, ...rest] = c.split(".");
                    const key = rest.join(".");
                    const value = extra ? (kind === "params" ? extra.params[key] : extra.metrics[key]) : undefined;
                    return (
                      <td class="num" key={c}>
                        {fmtValue(value)}
                      </td>
                    );
                  })}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {runs != null && runs.length === 0 && !error && <p class="muted">No runs match.</p>}
    </section>
  );
}
