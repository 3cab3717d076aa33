// One uPlot chart of one metric field; x is step or wallclock (epoch seconds).
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartProps {
  title: string;
  xLabel: string;
  time: boolean;
  series: { label: string; x: number[]; y: (number | null)[] }[];
}

const COLORS = ["#3b82f6", "#f97316", "#10b981", "#ef4444", "#a855f7", "#eab308"];

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

export function Chart({ title, xLabel, time, series }: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue("--fg").trim() || "#222";
    const grid = css.getPropertyValue("--grid").trim() || "#ddd";
    const axis = (label: string): uPlot.Axis => ({ label, stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } });
    const opts: uPlot.Options = {
      title,
      width: Math.max(280, el.clientWidth || 480),
      height: 220,
      scales: { x: { time } },
      axes: [axis(xLabel), axis(title)],
      series: [
        { label: xLabel },
        ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true })),
      ],
    };
    const plot = new uPlot(opts, align(series), el);
    const observer = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [title, xLabel, time, series]);
  return <div class="chart" ref={host} data-field={title} data-series={series.length} data-x={xLabel} />;
}
