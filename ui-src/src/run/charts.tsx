// Charts of metric streams: one chart per numeric field, drawn from the server's min/max
// downsampling (never the full series). Controls: x axis (step, wallclock, relative time or a
// numeric field), EMA smoothing, log scale. A drag-select zooms and refetches that x range at
// the same bucket count; while the run is live each tick fetches only the rows after the last
// total seen (`since`) and appends them — to the whole series and, for a zoomed chart, to its
// detail (the new points inside the zoomed range; the range itself never moves).
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { StreamInfo } from "../api";
import { Chart } from "../chart";
import { parseHash, Route, setQuery } from "../route";
import { runApi } from "./api";
import { appended, Axis, axisFor, FIELD, Points, shifted } from "./axes";

export const BUCKETS = 1000;
const MAX_HELD = 6 * BUCKETS; // appended points past this: fetch the downsampled series again
const EMPTY: Points = { x: [], y: [] };
const URL_DELAY = 300;

export interface ChartsPanelProps {
  runId: string;
  runName: string;
  createdAt: number;
  streams: StreamInfo[];
  route: Route;
  /** bumps on every poll while the run is running; 0 when not live */
  tick: number;
  /** the URL key of this panel's x axis, its choices and its default */
  xParam: string;
  axes: string[];
  defaultAxis: string;
  /** offer each numeric field of the streams as an x axis */
  fieldAxes: boolean;
  /** charts of a stream grouped under headings (e.g. cpu, memory, gpu.0) */
  group?: (field: string) => string;
  empty: string;
}

const AXIS_LABELS: Record<string, string> = { step: "step", wallclock: "wallclock", relative: "relative time" };

export function ChartsPanel(props: ChartsPanelProps) {
  const { route, xParam, streams } = props;
  const wanted = route.query.get(xParam) ?? props.defaultAxis;
  const key = props.axes.includes(wanted) || (props.fieldAxes && wanted.startsWith(FIELD)) ? wanted : props.defaultAxis;
  const axis = useMemo(() => axisFor(key, props.createdAt), [key, props.createdAt]);
  const log = route.query.get("log") === "1";
  const urlSmoothing = Math.min(0.99, Math.max(0, Number(route.query.get("smooth")) || 0));
  // the slider drives the charts at once; the URL follows a moment later (and a URL changed
  // from elsewhere, e.g. back/forward, drives the slider)
  const [smoothing, setSmoothing] = useState(urlSmoothing);
  const written = useRef(urlSmoothing);
  useEffect(() => {
    if (urlSmoothing !== written.current) setSmoothing((written.current = urlSmoothing));
  }, [urlSmoothing]);
  useEffect(() => {
    if (smoothing === written.current) return;
    const timer = setTimeout(() => {
      written.current = smoothing;
      setQuery(parseHash(location.hash), { smooth: smoothing ? String(smoothing) : "" });
    }, URL_DELAY);
    return () => clearTimeout(timer);
  }, [smoothing]);
  const fieldChoices = useMemo(
    () => [...new Set(streams.flatMap((s) => s.fields))].filter((f) => !f.startsWith("_")).sort(),
    [streams],
  );

  return (
    <div class="charts-panel">
      <div class="toolbar" role="group" aria-label="chart controls">
        <span>x-axis:</span>
        {props.axes.map((k) => (
          <button type="button" key={k} data-x={k} aria-pressed={k === axis.key} onClick={() => setQuery(route, { [xParam]: k })}>
            {AXIS_LABELS[k] ?? k}
          </button>
        ))}
        {props.fieldAxes && fieldChoices.length > 0 && (
          <select
            aria-label="x field"
            value={axis.key.startsWith(FIELD) ? axis.key.slice(FIELD.length) : ""}
            onChange={(e) => {
              const f = (e.target as HTMLSelectElement).value;
              setQuery(route, { [xParam]: f ? FIELD + f : props.defaultAxis });
            }}
          >
            <option value="">field…</option>
            {fieldChoices.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        )}
        <label class="smoothing">
          smoothing
          <input
            type="range"
            min="0"
            max="0.99"
            step="0.01"
            aria-label="smoothing"
            value={smoothing}
            onInput={(e) => setSmoothing(Number((e.target as HTMLInputElement).value))}
          />
          <output>{smoothing.toFixed(2)}</output>
        </label>
        <button type="button" data-log aria-pressed={log} onClick={() => setQuery(route, { log: log ? "" : "1" })}>
          log scale
        </button>
      </div>
      {streams.length === 0 && <p class="muted">{props.empty}</p>}
      {streams.map((s) => (
        <StreamCharts key={s.name} {...props} stream={s.name} axis={axis} smoothing={smoothing} log={log} />
      ))}
    </div>
  );
}

interface StreamProps extends ChartsPanelProps {
  stream: string;
  axis: Axis;
  smoothing: number;
  log: boolean;
}

interface Held {
  axis: string;
  total: number;
  series: Record<string, Points>;
  /** the last live append: rows [from, to) of the stream, per field (absent after a full read) */
  chunk?: { from: number; to: number; series: Record<string, Points> };
}

/** A live append's points in x order: `extra` after `old`, or sorted into it when some of its x
 * fall inside the held range (another writer's late steps; a field as the x axis). */
function merged(old: Points, extra: Points): Points {
  if (extra.x.length === 0) return old;
  const ordered = extra.x.every((v, i) => i === 0 || extra.x[i - 1] <= v);
  if (ordered && (old.x.length === 0 || old.x[old.x.length - 1] <= extra.x[0])) return appended(old, extra);
  const x = old.x.concat(extra.x);
  const y = old.y.concat(extra.y);
  const order = x.map((_, i) => i).sort((a, b) => x[a] - x[b] || a - b);
  return { x: order.map((i) => x[i]), y: order.map((i) => y[i]) };
}

/** The points with lo <= x < hi (the server's range rule). */
function within(p: Points, lo: number, hi: number): Points {
  const keep = p.x.map((v, i) => (v >= lo && v < hi ? i : -1)).filter((i) => i >= 0);
  return keep.length === p.x.length ? p : { x: keep.map((i) => p.x[i]), y: keep.map((i) => p.y[i]) };
}

function StreamCharts({ runId, runName, stream, axis, tick, smoothing, log, group }: StreamProps) {
  const [held, setHeld] = useState<Held | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const current = useRef(held);
  current.current = held;

  useEffect(() => {
    let live = true;
    runApi.series(runId, stream, { x: axis.api, buckets: BUCKETS }).then(
      (s) => {
        if (!live) return;
        const series: Record<string, Points> = {};
        for (const [f, p] of Object.entries(s.series)) series[f] = shifted(p, axis);
        setHeld({ axis: axis.key, total: s.total, series });
        setError(null);
      },
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [runId, stream, axis, generation]);

  useEffect(() => {
    const from = current.current;
    if (!tick || !from || from.axis !== axis.key) return;
    let live = true;
    runApi.series(runId, stream, { x: axis.api, buckets: BUCKETS, since: from.total }).then(
      (s) => {
        if (!live || s.total === from.total || current.current !== from) return;
        const series = { ...from.series };
        const chunk: Record<string, Points> = {};
        let big = false;
        for (const [f, p] of Object.entries(s.series)) {
          chunk[f] = shifted(p, axis);
          series[f] = merged(series[f] ?? EMPTY, chunk[f]);
          big ||= series[f].x.length > MAX_HELD;
        }
        setHeld({ axis: from.axis, total: s.total, series, chunk: { from: from.total, to: s.total, series: chunk } });
        if (big) setGeneration((g) => g + 1);
      },
      () => undefined, // a failed poll is retried by the next tick
    );
    return () => {
      live = false;
    };
  }, [tick]);

  const ready = held !== null && held.axis === axis.key; // never old x values under a new axis
  const fields = ready
    ? Object.keys(held.series).filter((f) => !f.startsWith("_") && held.series[f].x.length > 0 && axis.api !== FIELD + f)
    : [];
  const groups = new Map<string, string[]>();
  for (const f of fields) {
    const g = group ? group(f) : "";
    groups.set(g, [...(groups.get(g) ?? []), f]);
  }
  return (
    <div class="stream" data-stream={stream} data-total={held?.total ?? ""}>
      <h3>
        {stream} {held && <span class="muted small">{held.total} rows</span>}
      </h3>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {ready && fields.length === 0 && <p class="muted">No numeric values to draw against {axis.label}.</p>}
      {[...groups].map(([name, list]) => (
        <div class="chart-group" key={name} data-group={name}>
          {name && <h4>{name}</h4>}
          <div class="charts">
            {list.map((f) => (
              <FieldChart
                key={f}
                runId={runId}
                stream={stream}
                field={f}
                label={runName}
                axis={axis}
                points={held!.series[f]}
                total={held!.total}
                chunk={held!.chunk && { from: held!.chunk.from, to: held!.chunk.to, points: held!.chunk.series[f] ?? EMPTY }}
                smoothing={smoothing}
                log={log}
              />
            ))}
          </div>
        </div>
      ))}
    </div>
  );
}

interface FieldProps {
  runId: string;
  stream: string;
  field: string;
  label: string;
  axis: Axis;
  /** the whole series as held (live appends included) */
  points: Points;
  /** the rows held: the stream's total when last read */
  total: number;
  /** this field's points of the last live append, rows [from, to) */
  chunk?: { from: number; to: number; points: Points };
  smoothing: number;
  log: boolean;
}

/** A zoomed range's points, fetched at BUCKETS, and the rows they cover: [0, through). */
interface Detail {
  points: Points;
  through: number;
}

/** The x range fetched for a zoom: a little wider, so lines run to the chart's edges. */
function padded(range: [number, number]): [number, number] {
  const pad = (range[1] - range[0]) * 0.02;
  return [range[0] - pad, range[1] + pad];
}

/**
 * One field's chart; a zoom refetches the selected x range from the server at BUCKETS. While
 * zoomed, live rows reach the detail too: a live append whose rows follow the detail's is
 * filtered to the range here (no request); otherwise (an append that raced the zoom's fetch, a
 * full re-read) the rows after the detail's are fetched for the range (`since`), and a detail
 * grown past MAX_HELD is fetched again at BUCKETS. The zoomed range stays as it is.
 */
function FieldChart({ runId, stream, field, label, axis, points, total, chunk, smoothing, log }: FieldProps) {
  const [zoom, setZoom] = useState<[number, number] | null>(null);
  const [detail, setDetail] = useState<Detail | null>(null);
  const asked = useRef(0); // bumps on each zoom and axis change: older answers are dropped
  const fetching = useRef(-1); // the `asked` whose range fetch is in flight
  useEffect(() => {
    asked.current += 1;
    setZoom(null);
    setDetail(null);
  }, [axis]);

  /** Fetches the zoomed range (rows from `base.through` on, merged into `base`; null: all). */
  const fetchRange = (range: [number, number], base: Detail | null) => {
    const ask = asked.current;
    const [lo, hi] = padded(range);
    fetching.current = ask;
    runApi
      .series(runId, stream, {
        fields: field,
        x: axis.api,
        buckets: BUCKETS,
        start: lo + axis.offset,
        end: hi + axis.offset,
        since: base?.through,
      })
      .then(
        (s) => {
          if (ask !== asked.current) return;
          fetching.current = -1;
          const got = shifted(s.series[field] ?? EMPTY, axis);
          setDetail({ points: base ? merged(base.points, got) : got, through: s.total });
        },
        () => {
          // the zoom still shows the points it holds; the next live append tries again
          if (ask === asked.current) fetching.current = -1;
        },
      );
  };

  const onZoom = useCallback(
    (range: [number, number] | null) => {
      asked.current += 1;
      setZoom(range);
      setDetail(null);
      if (range) fetchRange(range, null);
    },
    [runId, stream, field, axis],
  );

  useEffect(() => {
    if (!zoom || !detail || total <= detail.through || fetching.current === asked.current) return;
    if (chunk && chunk.from === detail.through && chunk.to === total) {
      const [lo, hi] = padded(zoom);
      const points = merged(detail.points, within(chunk.points, lo, hi));
      if (points.x.length > MAX_HELD) fetchRange(zoom, null);
      else setDetail({ points, through: total });
    } else fetchRange(zoom, detail);
  }, [total, detail, zoom]);

  const shown = zoom && detail ? detail.points : points;
  const series = useMemo(() => [{ label, ...shown }], [label, shown]);
  return (
    <div class="field-chart">
      {zoom && (
        <button type="button" class="reset-zoom" onClick={() => onZoom(null)}>
          reset zoom
        </button>
      )}
      <Chart
        title={field}
        xLabel={axis.label}
        time={axis.time}
        series={series}
        log={log}
        smoothing={smoothing}
        zoom={zoom}
        onZoom={onZoom}
        xFormat={axis.format}
      />
    </div>
  );
}
