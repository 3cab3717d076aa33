// A small uPlot chart of one (x, y) line or of bars: the curves (ROC, precision-recall, custom)
// and histograms that runlane stores as values. Colors come from the theme variables.
import { useLayoutEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { COLORS } from "../chart";

export interface PlotProps {
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  y: number[];
  /** draw bars (a histogram: x are the bin centres) instead of a line */
  bars?: boolean;
  /** fix both axes to [0, 1] (rates, precision, recall) */
  unit?: boolean;
  /** also draw y = x, dashed (a ROC curve's chance line) */
  diagonal?: boolean;
  /** the x axis' range (a histogram's outer bin edges); else fitted to x */
  xRange?: [number, number];
}

const HEIGHT = 260;

/** uPlot reads x left to right: a curve logged right to left (precision-recall) is reversed. */
function ordered(x: number[], y: number[]): [number[], number[]] {
  const falling = x.length > 1 && x.every((v, i) => i === 0 || v <= x[i - 1]) && x[0] !== x[x.length - 1];
  return falling ? [[...x].reverse(), [...y].reverse()] : [x, y];
}

export function Plot({ title, xLabel, yLabel, x, y, bars = false, unit = false, diagonal = false, xRange }: PlotProps) {
  const host = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const el = host.current;
    if (!el) return;
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue("--fg").trim() || "#222";
    const grid = css.getPropertyValue("--grid").trim() || "#ddd";
    const muted = css.getPropertyValue("--muted").trim() || "#888";
    const axis = (label: string): uPlot.Axis => ({ label, stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } });
    const [xs, ys] = ordered(x, y);
    const line: uPlot.Series = { label: yLabel, stroke: COLORS[0], width: 2 };
    if (bars) {
      line.fill = COLORS[0] + "88";
      line.paths = uPlot.paths.bars!({ size: [0.9, Infinity] });
      line.points = { show: false };
    }
    const range: uPlot.Range.MinMax = [0, 1];
    const opts: uPlot.Options = {
      title,
      width: Math.max(280, Math.min(640, el.clientWidth || 480)),
      height: HEIGHT,
      scales: { x: { time: false, ...(unit ? { range } : xRange ? { range: xRange } : {}) }, y: unit ? { range } : bars ? { range: (_u, _min, max) => [0, max || 1] } : {} },
      axes: [axis(xLabel), axis(yLabel)],
      series: [{ label: xLabel }, line, ...(diagonal ? [{ label: "chance", stroke: muted, width: 1, dash: [6, 4], points: { show: false } }] : [])],
      legend: { show: true },
    };
    const plot = new uPlot(opts, diagonal ? [xs, ys, xs] : [xs, ys], el);
    return () => plot.destroy();
  }, [title, xLabel, yLabel, x, y, bars, unit, diagonal, xRange?.[0], xRange?.[1]]);
  return <div class="plot" ref={host} data-title={title} data-points={x.length} data-bars={bars ? "1" : "0"} />;
}
