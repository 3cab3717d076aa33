// The compare view: several runs side by side. One overlaid chart per metric field that more
// than one of them logged (one line per run, drawn from the server's min/max downsampling),
// and a diff table of run fields, params, meta and metadata documents that highlights the rows
// whose values differ ("only differences" hides the rest). State: #/compare?runs=a,b&x=step&diff=1
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, get, RunInfo, Series, StreamInfo } from "./api";
import { Chart } from "./chart";
import { duration, fmtDuration, fmtTime, fmtValue } from "./format";
import { hrefFor, Route, setQuery } from "./route";
import { FROM_TABLE } from "./table/selection";
import { splitList } from "./table/state";

const BUCKETS = 1000;
const X_MODES: Record<string, { api: string; label: string; time: boolean; relative: boolean }> = {
  step: { api: "step", label: "step", time: false, relative: false },
  relative: { api: "time", label: "relative time", time: false, relative: true },
  wallclock: { api: "time", label: "wallclock", time: true, relative: false },
};
const NESTING = 4; // metadata documents are flattened this deep

interface Compared extends RunInfo {
  extra?: Record<string, unknown>;
  group?: string | null;
}

interface Detail {
  run: Compared;
  params: Record<string, unknown>;
  metadata: Record<string, unknown>;
  streams: StreamInfo[];
}

interface DiffRow {
  key: string;
  values: string[];
  differs: boolean;
}

function flatten(prefix: string, value: unknown, out: Record<string, unknown>, depth = 0): void {
  if (value && typeof value === "object" && !Array.isArray(value) && depth < NESTING) {
    for (const [k, v] of Object.entries(value)) flatten(prefix ? `${prefix}.${k}` : k, v, out, depth + 1);
  } else {
    out[prefix] = value;
  }
}

async function load(id: string): Promise<Detail> {
  const path = `runs/${encodeURIComponent(id)}`;
  const [run, params, metadata, streams] = await Promise.all([
    get<Compared>(path),
    api.params(id).catch(() => ({ data: {} })),
    get<{ metadata: Record<string, { value: unknown }> }>(`${path}/metadata`).catch(() => ({ metadata: {} })),
    api.streams(id).catch(() => ({ streams: [] as StreamInfo[] })),
  ]);
  const docs: Record<string, unknown> = {};
  for (const [k, doc] of Object.entries(metadata.metadata)) flatten(k, doc.value, docs);
  return { run, params: params.data, metadata: docs, streams: streams.streams };
}

function text(value: unknown): string {
  return value === undefined ? "" : fmtValue(value);
}

/** The rows of the diff table: run fields, then params, meta and metadata keys (sorted). */
export function diffRows(details: Detail[]): DiffRow[] {
  const rows: DiffRow[] = [];
  const add = (key: string, values: string[]) => rows.push({ key, values, differs: new Set(values).size > 1 });
  add("status", details.map((d) => d.run.status));
  add("tags", details.map((d) => [...d.run.tags].sort().join(", ")));
  add("created", details.map((d) => fmtTime(d.run.createdAt)));
  add("duration", details.map((d) => fmtDuration(duration(d.run))));
  for (const field of ["group", "framework", "backend", "description"] as const) {
    const values = details.map((d) => text(d.run[field]));
    if (values.some(Boolean)) add(field, values);
  }
  const section = (prefix: string, pick: (d: Detail) => Record<string, unknown>) => {
    const keys = [...new Set(details.flatMap((d) => Object.keys(pick(d))))].sort();
    for (const k of keys) add(`${prefix}.${k}`, details.map((d) => text(pick(d)[k])));
  };
  section("params", (d) => d.params);
  section("meta", (d) => d.run.extra ?? {});
  section("metadata", (d) => d.metadata);
  return rows;
}

/** Unique legend names: a run name, with its id's start when two runs share the name. */
function labels(details: Detail[]): string[] {
  const names = details.map((d) => d.run.name);
  return details.map((d, i) => (names.indexOf(d.run.name) !== names.lastIndexOf(d.run.name) ? `${names[i]} (${d.run.id.slice(0, 6)})` : names[i]));
}

export function ComparePage({ route }: { route: Route }) {
  const ids = splitList(route.query.get("runs"));
  const xKey = X_MODES[route.query.get("x") ?? ""] ? route.query.get("x")! : "step";
  const onlyDiff = route.query.get("diff") === "1";
  const [details, setDetails] = useState<Detail[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [series, setSeries] = useState<Record<string, Series>>({});
  const idsKey = ids.join(",");

  useEffect(() => {
    let live = true;
    setDetails(null);
    setError(null);
    Promise.all(ids.map(load)).then(
      (d) => live && setDetails(d),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [idsKey]);

  useEffect(() => {
    if (!details) return;
    let live = true;
    const mode = X_MODES[xKey];
    setSeries({});
    for (const d of details) {
      for (const s of d.streams) {
        api.series(d.run.id, s.name, mode.api, BUCKETS).then(
          (answer) => live && setSeries((prev) => ({ ...prev, [`${d.run.id}|${s.name}`]: answer })),
          (e: Error) => live && setError(e.message),
        );
      }
    }
    return () => {
      live = false;
    };
  }, [details, xKey]);

  const rows = useMemo(() => (details ? diffRows(details) : []), [details]);
  const charts = useMemo(() => {
    if (!details) return [];
    const mode = X_MODES[xKey];
    const names = labels(details);
    const streams = [...new Set(details.flatMap((d) => d.streams.map((s) => s.name)))];
    const out: { title: string; series: { label: string; x: number[]; y: (number | null)[] }[] }[] = [];
    for (const stream of streams) {
      const fields = [...new Set(details.flatMap((d) => d.streams.find((s) => s.name === stream)?.fields ?? []))];
      for (const field of fields) {
        if (field.startsWith("_")) continue;
        const lines = [];
        for (const [i, d] of details.entries()) {
          const answer = series[`${d.run.id}|${stream}`];
          const points = answer && answer.x === mode.api ? answer.series[field] : undefined;
          if (!points || points.x.length === 0) continue;
          const x = mode.relative ? points.x.map((v) => v - d.run.createdAt) : points.x;
          lines.push({ label: names[i], x, y: points.y });
        }
        const logged = details.filter((d) => d.streams.some((s) => s.name === stream && s.fields.includes(field))).length;
        if (logged >= Math.min(2, details.length) && lines.length > 0)
          out.push({ title: stream === "default" ? field : `${stream}.${field}`, series: lines });
      }
    }
    return out;
  }, [details, series, xKey]);

  const back = (e: MouseEvent) => {
    if (history.state?.runlane === FROM_TABLE.runlane) {
      e.preventDefault();
      history.back(); // to the table's exact view
    }
  };
  const mode = X_MODES[xKey];
  const shownRows = onlyDiff ? rows.filter((r) => r.differs) : rows;
  return (
    <section class="compare">
      <p>
        <a href={hrefFor([])} onClick={back}>
          ← runs
        </a>
      </p>
      <h1>Compare {ids.length} runs</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {ids.length < 2 && <p class="muted">Select two or more runs in the runs table to compare them.</p>}
      {details == null && !error && <p class="muted">Loading…</p>}
      {details && (
        <>
          <h2>Metrics</h2>
          <div class="toolbar" role="group" aria-label="x axis">
            x-axis:
            {Object.keys(X_MODES).map((k) => (
              <button type="button" key={k} data-x={k} aria-pressed={k === xKey} onClick={() => setQuery(route, { x: k })}>
                {X_MODES[k].label}
              </button>
            ))}
          </div>
          <div class="charts">
            {charts.map((c) => (
              <Chart key={c.title} title={c.title} xLabel={mode.label} time={mode.time} series={c.series} xFormat={mode.relative ? fmtDuration : undefined} />
            ))}
          </div>
          {charts.length === 0 && <p class="muted">No metric field is shared by these runs yet.</p>}
          <h2>Params and metadata</h2>
          <div class="toolbar">
            <button type="button" data-action="only-differences" aria-pressed={onlyDiff} onClick={() => setQuery(route, { diff: onlyDiff ? "" : "1" })}>
              only differences
            </button>
            <span class="muted">
              {rows.filter((r) => r.differs).length} of {rows.length} rows differ
            </span>
          </div>
          <div class="diff-scroll">
            <table class="diff" data-rows={shownRows.length}>
              <thead>
                <tr>
                  <th>key</th>
                  {details.map((d) => (
                    <th key={d.run.id}>
                      <a href={hrefFor(["run", d.run.id])}>{d.run.name}</a>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {shownRows.map((r) => (
                  <tr key={r.key} class={r.differs ? "differs" : ""} data-key={r.key} data-differs={r.differs ? "1" : "0"}>
                    <th scope="row">{r.key}</th>
                    {r.values.map((v, i) => (
                      <td key={i}>{v === "" ? <span class="muted">—</span> : v}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
