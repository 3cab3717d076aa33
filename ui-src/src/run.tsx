// The run page: overview (status history, tags), params, one chart per numeric stream field, logs.
import { useEffect, useState } from "preact/hooks";
import { api, LOG_LEVELS, LogRecord, RunInfo, Series, StreamInfo } from "./api";
import { Chart } from "./chart";
import { duration, fmtDuration, fmtTime, fmtValue } from "./format";
import { hrefFor, Route, setQuery } from "./route";

const BUCKETS = 1000;
const X_AXES: Record<string, { api: string; label: string; time: boolean }> = {
  step: { api: "step", label: "step", time: false },
  wallclock: { api: "time", label: "wallclock", time: true },
};

export function RunPage({ id, route }: { id: string; route: Route }) {
  const xKey = X_AXES[route.query.get("x") ?? ""] ? route.query.get("x")! : "step";
  const level = route.query.get("level") ?? "";
  const [run, setRun] = useState<RunInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [params, setParams] = useState<Record<string, unknown>>({});
  const [streams, setStreams] = useState<StreamInfo[]>([]);
  const [series, setSeries] = useState<Record<string, Series>>({});
  const [logs, setLogs] = useState<LogRecord[] | null>(null);

  useEffect(() => {
    setError(null);
    api.run(id).then(setRun, (e: Error) => setError(e.message));
    api.params(id).then((p) => setParams(p.data), () => setParams({}));
    api.streams(id).then((s) => setStreams(s.streams), (e: Error) => setError(e.message));
  }, [id]);

  useEffect(() => {
    let live = true;
    const axis = X_AXES[xKey];
    Promise.all(streams.map(async (s) => [s.name, await api.series(id, s.name, axis.api, BUCKETS)] as const)).then(
      (pairs) => live && setSeries(Object.fromEntries(pairs)),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [id, streams, xKey]);

  useEffect(() => {
    let live = true;
    api.logs(id, level).then(
      (l) => live && setLogs(l.logs),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [id, level]);

  const axis = X_AXES[xKey];
  const paramKeys = Object.keys(params).sort();
  return (
    <section class="run">
      <p>
        <a href={hrefFor([])}>← runs</a>
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {run && (
        <div class="overview">
          <h1>
            {run.name} <span class={"status " + run.status}>{run.status}</span>
          </h1>
          <p class="muted">
            {run.owner}/{run.project} · {run.id} · created {fmtTime(run.createdAt)} · {fmtDuration(duration(run))}
          </p>
          {run.description && <p>{run.description}</p>}
          <p class="tags">
            {run.tags.map((t) => (
              <span class="tag" key={t}>
                {t}
              </span>
            ))}
          </p>
          {run.statusHistory.length > 0 && (
            <ol class="history">
              {run.statusHistory.map((h, i) => (
                <li key={i}>
                  {fmtTime(h.at)} <span class={"status " + h.status}>{h.status}</span> {h.message ?? ""}
                </li>
              ))}
            </ol>
          )}
        </div>
      )}
      <h2>Params</h2>
      {paramKeys.length === 0 ? (
        <p class="muted">No params.</p>
      ) : (
        <table class="params">
          <tbody>
            {paramKeys.map((k) => (
              <tr key={k}>
                <th>{k}</th>
                <td>{fmtValue(params[k])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Metrics</h2>
      <div class="toolbar" role="group" aria-label="x axis">
        x-axis:
        {Object.keys(X_AXES).map((k) => (
          <button type="button" key={k} data-x={k} aria-pressed={k === xKey} onClick={() => setQuery(route, { x: k })}>
            {X_AXES[k].label}
          </button>
        ))}
      </div>
      {streams.map((s) => {
        const data = series[s.name];
        if (!data || data.x !== axis.api) return null;
        const fields = Object.keys(data.series).filter((f) => !f.startsWith("_") && data.series[f].x.length > 0);
        return (
          <div class="stream" key={s.name} data-stream={s.name}>
            <h3>
              {s.name} <span class="muted small">{s.count} rows</span>
            </h3>
            <div class="charts">
              {fields.map((f) => (
                <Chart
                  key={f}
                  title={f}
                  xLabel={axis.label}
                  time={axis.time}
                  series={[{ label: run?.name ?? id, ...data.series[f] }]}
                />
              ))}
            </div>
          </div>
        );
      })}
      <h2>Logs</h2>
      <label>
        level ≥{" "}
        <select value={level} aria-label="log level" onChange={(e) => setQuery(route, { level: (e.target as HTMLSelectElement).value })}>
          <option value="">all</option>
          {LOG_LEVELS.map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
          ))}
        </select>
      </label>
      {logs && (
        <ol class="logs" data-count={logs.length}>
          {logs.map((l) => (
            <li key={l.seq} class={"log " + l.level}>
              <span class="muted">{fmtTime(l.timestamp)}</span> <span class="level">{l.level}</span> {l.message}
            </li>
          ))}
        </ol>
      )}
      {logs && logs.length === 0 && <p class="muted">No logs.</p>}
    </section>
  );
}
