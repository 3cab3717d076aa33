// Charts of metric streams: one chart per numeric field, drawn from the server's min/max
// downsampling (never the full series). Controls: x axis (step, wallclock, relative time or a
// numeric field), EMA smoothing, log scale. A drag-select zooms and refetches that x range at
// the same bucket count; while the run is live each tick fetches only the rows after the last
// total seen (`since`) and appends them.
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
        let big = false;
        for (const [f, p] of Object.entries(s.series)) {
          series[f] = appended(series[f] ?? EMPTY, shifted(p, axis));
          big ||= series[f].x.length > MAX_HELD;
        }
        setHeld({ axis: from.axis, total: s.total, series });
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
  points: Points;
  smoothing: number;
  log: boolean;
}

/** One field's chart; a zoom refetches the selected x range from the server at BUCKETS. */
function FieldChart({ runId, stream, field, label, axis, points, smoothing, log }: FieldProps) {
  const [zoom, setZoom] = useState<[number, number] | null>(null);
  const [detail, setDetail] = useState<Points | null>(null);
  const asked = useRef(0);
  useEffect(() => {
    asked.current += 1;
    setZoom(null);
    setDetail(null);
  }, [axis]);

  const onZoom = useCallback(
    (range: [number, number] | null) => {
      const ask = ++asked.current;
      setZoom(range);
      setDetail(null);
      if (!range) return;
      const pad = (range[1] - range[0]) * 0.02; // so lines run to the chart's edges
      runApi
        .series(runId, stream, {
          fields: field,
          x: axis.api,
          buckets: BUCKETS,
          start: range[0] - pad + axis.offset,
          end: range[1] + pad + axis.offset,
        })
        .then(
          (s) => ask === asked.current && setDetail(shifted(s.series[field] ?? EMPTY, axis)),
          () => undefined, // the zoom still shows the points already held
        );
    },
    [runId, stream, field, axis],
  );

  const shown = zoom && detail ? detail : points;
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
