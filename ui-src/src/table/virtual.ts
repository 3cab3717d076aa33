// Windowing by hand: a scroll container of fixed-height rows renders only the rows in view
// (plus an overscan above and below); spacers above and below keep the scroll height exact.
import { useCallback, useEffect, useLayoutEffect, useState } from "preact/hooks";

export interface Window {
  /** first and last (exclusive) index to render */
  first: number;
  last: number;
  /** the height of one row in CSS pixels, measured from a rendered row */
  rowHeight: number;
}

export function windowOf(scrollTop: number, viewport: number, rowHeight: number, count: number, overscan: number): [number, number] {
  const top = Math.floor(scrollTop / rowHeight);
  const bottom = Math.ceil((scrollTop + viewport) / rowHeight);
  return [Math.max(0, top - overscan), Math.min(count, bottom + overscan)];
}

/**
 * Tracks which of ``count`` rows of the ``scroller`` element are in view (pass the element
 * from a callback ref, so a container rendered later is picked up). ``headerHeight`` is the height
 * above the first row inside the scroller (a sticky table header). The row height starts at
 * ``estimate`` and is corrected from the first rendered ``tr.row`` (CSS decides it).
 */
export function useWindow(
  scroller: HTMLElement | null,
  count: number,
  estimate: number,
  overscan = 10,
): Window & { scrollToIndex: (index: number) => void } {
  const [rowHeight, setRowHeight] = useState(estimate);
  const [view, setView] = useState({ top: 0, height: 800, header: 0 });

  const measure = useCallback(() => {
    const el = scroller;
    if (!el) return;
    const head = el.querySelector("thead");
    setView({ top: el.scrollTop, height: el.clientHeight, header: head ? head.getBoundingClientRect().height : 0 });
  }, [scroller]);

  useEffect(() => {
    const el = scroller;
    if (!el) return;
    let frame = 0;
    const onScroll = () => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        measure();
      });
    };
    el.addEventListener("scroll", onScroll, { passive: true });
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    measure();
    return () => {
      el.removeEventListener("scroll", onScroll);
      observer.disconnect();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [scroller, measure]);

  useLayoutEffect(() => {
    const row = scroller?.querySelector("tbody tr.row");
    if (!row) return;
    const h = row.getBoundingClientRect().height;
    if (h > 0 && Math.abs(h - rowHeight) > 0.01) setRowHeight(h);
  });

  const [first, last] = windowOf(view.top, Math.max(0, view.height - view.header), rowHeight, count, overscan);
  const scrollToIndex = useCallback(
    (index: number) => {
      const el = scroller;
      if (!el) return;
      const top = index * rowHeight;
      const bottom = top + rowHeight + view.header;
      if (top < el.scrollTop) el.scrollTop = top;
      else if (bottom > el.scrollTop + el.clientHeight) el.scrollTop = bottom - el.clientHeight;
    },
    [scroller, rowHeight, view.header],
  );
  return { first, last, rowHeight, scrollToIndex };
}
