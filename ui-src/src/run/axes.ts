// X axes of the run page's charts and the presentation-only transforms of drawn points.
import { fmtDuration } from "../format";

export interface Axis {
  /** the key kept in the URL: step, wallclock, relative or field:<name> */
  key: string;
  /** the server's x: step, time or field:<name> */
  api: string;
  label: string;
  time: boolean;
  /** subtracted from the server's x for display (relative time: the run's creation) */
  offset: number;
  /** x as text; `incr` is the tick spacing when formatting ticks (absent in the legend) */
  format?: (v: number, incr?: number) => string;
}

export const FIELD = "field:";

export function axisFor(key: string, createdAt: number): Axis {
  if (key === "wallclock") return { key, api: "time", label: "wallclock", time: true, offset: 0 };
  if (key === "relative")
    return { key, api: "time", label: "relative time", time: false, offset: createdAt, format: fmtRelative };
  if (key.startsWith(FIELD) && key.length > FIELD.length)
    return { key, api: key, label: key.slice(FIELD.length), time: false, offset: 0 };
  return { key: "step", api: "step", label: "step", time: false, offset: 0 };
}

/** Seconds since the run's creation: "12.35s" (decimals as fine as the ticks), "3m 20s", "2h 5m". */
export function fmtRelative(v: number, incr?: number): string {
  if (Math.abs(v) >= 60) return (v < 0 ? "-" : "") + fmtDuration(Math.abs(v));
  const digits = incr == null ? 2 : incr >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(incr) - 1e-9));
  return `${v.toFixed(digits)}s`;
}

export interface Points {
  x: number[];
  y: (number | null)[];
}

/** The server's x values shifted to the axis' display units. */
export function shifted(p: Points, axis: Axis): Points {
  return axis.offset ? { x: p.x.map((v) => v - axis.offset), y: p.y } : p;
}

/**
 * Exponential moving average, debiased like TensorBoard's. Presentation only: it runs in the
 * browser over the points as drawn — the server's min/max-downsampled points, not the full
 * series — so it smooths the picture, not the data; gaps (null) stay gaps.
 */
export function ema(y: (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return y;
  let last = 0;
  let n = 0;
  return y.map((v) => {
    if (v == null || !Number.isFinite(v)) return null;
    last = last * weight + (1 - weight) * v;
    n += 1;
    return last / (1 - Math.pow(weight, n));
  });
}

/** On a log scale only positive values can be drawn: the rest become gaps. */
export function positive(y: (number | null)[]): (number | null)[] {
  return y.map((v) => (v != null && v > 0 ? v : null));
}

/** A live update's new points (rows after the last index seen) after the ones held. */
export function appended(old: Points, extra: Points): Points {
  if (extra.x.length === 0) return old;
  return { x: old.x.concat(extra.x), y: old.y.concat(extra.y) };
}
