// One uPlot chart of one metric field: one line per series over a shared x (step, wallclock in
// epoch seconds, relative seconds or any numeric field). Hovering shows the values in the legend.
// Optional: log y scale, EMA smoothing (raw line kept faint), and zoom by drag-select — the
// chart reports the selected x range through onZoom (its owner refetches that range from the
// server for detail and passes it back with `zoom`); a double-click asks for the reset (null).
import { useLayoutEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { ema, positive } from "./run/axes";

export interface ChartProps {
  title: string;
  xLabel: string;
  time: boolean;
  series: { label: string; x: number[]; y: (number | null)[] }[];
  /** log10 y scale; values ≤ 0 are not drawn */
  log?: boolean;
  /** EMA weight in [0, 1); 0 draws the points as they are */
  smoothing?: number;
  /** the x range shown; null or absent: everything */
  zoom?: [number, number] | null;
  /** a drag-select's x range, or null on double-click (reset) */
  onZoom?: (range: [number, number] | null) => void;
  /** formats x for ticks (with the tick spacing) and the legend; numbers or dates by default */
  xFormat?: (v: number, incr?: number) => string;
}

export const COLORS = ["#3b82f6", "#f97316", "#10b981", "#ef4444", "#a855f7", "#eab308"];
const HEIGHT = 220;
const COMPACT = new Intl.NumberFormat("en", { notation: "compact", maximumSignificantDigits: 3 });

/** y tick labels that fit the axis: 1.2K, 3.4M, 1e-5 (uPlot passes null for skipped log ticks) */
function yTick(v: number | null): string {
  if (v == null) return "";
  const a = Math.abs(v);
  if (a >= 1e4) return COMPACT.format(v);
  if (a > 0 && a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(6)));
}

/** Joins several (x, y) series on the union of their x values (uPlot wants one x array). */
function align(series: ChartProps["series"]): uPlot.AlignedData {
  if (series.length === 1) return [series[0].x, series[0].y];
  const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const col: (number | null)[] = new Array(xs.length).fill(null);
    s.x.forEach((x, i) => (col[at.get(x)!] = s.y[i]));
    return col;
  });
  return [xs, ...ys];
}

/** The columns uPlot draws: per series the smoothed line then (when smoothing) the faint raw one. */
function drawn(aligned: uPlot.AlignedData, smoothing: number, log: boolean): uPlot.AlignedData {
  const [xs, ...ys] = aligned;
  const cols: (number | null)[][] = [];
  for (const y of ys as (number | null)[][]) {
    if (smoothing > 0) cols.push(ema(y, smoothing));
    cols.push(y);
  }
  return [xs, ...(log ? cols.map(positive) : cols)];
}

function faint(color: string): string {
  return color + "55"; // #rrggbb + alpha
}

export function Chart({ title, xLabel, time, series, log = false, smoothing = 0, zoom = null, onZoom, xFormat }: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const zoomTo = useRef(onZoom);
  zoomTo.current = onZoom;
  const smooth = smoothing > 0;
  const labels = series.map((s) => s.label).join("\u0000");

  // layout effects: the plot is drawn in the same commit as the data-* attributes below
  useLayoutEffect(() => {
    const el = host.current;
    if (!el) return;
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue("--fg").trim() || "#222";
    const grid = css.getPropertyValue("--grid").trim() || "#ddd";
    const axis = (label: string): uPlot.Axis => ({ label, stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } });
    const xAxis = axis(xLabel);
    if (xFormat) xAxis.values = (_u, splits, _axis, _space, incr) => splits.map((v) => (v == null ? "" : xFormat(v, incr)));
    const yAxis = axis(title);
    yAxis.values = (_u, splits) => splits.map(yTick);
    const lines: uPlot.Series[] = [];
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      if (smooth) lines.push({ label: s.label, stroke: color, width: 1.5, spanGaps: true });
      lines.push({ label: smooth ? `${s.label} (raw)` : s.label, stroke: smooth ? faint(color) : color, width: smooth ? 1 : 1.5, spanGaps: true });
    });
    const opts: uPlot.Options = {
      title,
      width: Math.max(280, el.clientWidth || 480),
      height: HEIGHT,
      scales: { x: { time }, y: log ? { distr: 3, log: 10 } : {} },
      axes: [xAxis, yAxis],
      series: [{ label: xLabel, ...(xFormat ? { value: (_u: uPlot, v: number) => (v == null ? "" : xFormat(v)) } : {}) }, ...lines],
      cursor: {
        drag: { x: true, y: false, setScale: false },
        bind: {
          dblclick: () => () => {
            zoomTo.current?.(null);
            return null;
          },
        },
      },
      hooks: {
        setSelect: [
          (u) => {
            const { left, width } = u.select;
            if (width < 3) return;
            const range: [number, number] = [u.posToVal(left, "x"), u.posToVal(left + width, "x")];
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoomTo.current?.(range);
          },
        ],
      },
    };
    const made = new uPlot(opts, [[], ...lines.map(() => [])], el);
    plot.current = made;
    const observer = new ResizeObserver(() => made.setSize({ width: Math.max(280, el.clientWidth), height: HEIGHT }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      made.destroy();
      plot.current = null;
    };
    // the plot is rebuilt when its shape changes; data and zoom changes only redraw it (below)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [title, xLabel, time, log, smooth, labels, xFormat]);

  useLayoutEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.setData(drawn(align(series), smoothing, log), true);
    if (zoom) u.setScale("x", { min: zoom[0], max: zoom[1] });
  }, [series, smoothing, log, zoom, title, xLabel, time, smooth, labels, xFormat]);

  const points = series.reduce((n, s) => n + s.x.length, 0);
  return (
    <div
      class="chart"
      ref={host}
      data-field={title}
      data-series={series.length}
      data-x={xLabel}
      data-points={points}
      data-log={log ? "1" : "0"}
      data-smoothing={smoothing}
      data-zoom={zoom ? zoom.join(",") : ""}
    />
  );
}
