// The rows of the runs table as one flat, virtual list: group headers and runs, fetched a page
// at a time from the server as they scroll into view. Filtering, sorting, grouping and column
// values are all computed by the server; this module only places and caches pages.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { conjoin, Group, Groups, tableApi, TableRun } from "./api";

export const PAGE = 100;

export interface RowsQuery {
  project: string;
  where: string;
  sort: string;
  columns: readonly string[];
  group: string;
}

export type Item =
  | { kind: "group"; group: Group; open: boolean; size: number }
  | { kind: "run"; run: TableRun }
  | { kind: "loading" };

interface Segment {
  /** the group's label ("" without grouping) */
  key: string;
  group: Group | null;
  /** the filter of the segment's runs; null when the server cannot write one */
  where: string | null;
  count: number;
}

interface Placed extends Segment {
  start: number;
  header: number;
  shown: number;
}

export interface Rows {
  ready: boolean;
  error: string | null;
  /** runs matching the filter (a run with several tags counts once); null until counted */
  total: number | null;
  /** flat rows: group headers plus the runs of open groups */
  count: number;
  groups: Groups | null;
  item: (index: number) => Item;
  /** fetch the pages holding rows first..last-1 that are not loaded yet */
  ensure: (first: number, last: number) => void;
  /** loaded runs between two flat indices (inclusive, either order) */
  runsBetween: (a: number, b: number) => TableRun[];
}

/** The rows of ``q``; nothing is fetched while ``enabled`` is false (``ready`` stays false). */
export function useRows(q: RowsQuery, closed: readonly string[], enabled = true): Rows {
  const key = enabled ? JSON.stringify(q) : "";
  const gen = useRef(0);
  const pages = useRef(new Map<string, TableRun[]>());
  const inflight = useRef(new Set<string>());
  const [structure, setStructure] = useState<{ key: string; segments: Segment[]; total: number | null; groups: Groups | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [, setVersion] = useState(0);

  useEffect(() => {
    const mine = ++gen.current;
    pages.current = new Map();
    inflight.current = new Set();
    setError(null);
    if (!key) return;
    const fail = (e: Error) => {
      if (mine !== gen.current) return;
      setError(e.message);
      setStructure({ key, segments: [], total: 0, groups: null });
    };
    if (q.group) {
      tableApi.groups(q.project, q.where, q.group).then((g) => {
        if (mine !== gen.current) return;
        const segments = g.groups.map((group) => ({
          key: group.label,
          group,
          where: group.where == null ? null : conjoin(q.where, group.where),
          count: group.count,
        }));
        setStructure({ key, segments, total: g.total, groups: g });
      }, fail);
    } else {
      // the count is asked for once the first page is in: rows show before the count (a full
      // listing on stores without a count, which would slow the page beside it) comes back,
      // and the scroll height follows it
      const whole = (count: number, total: number | null) => ({
        key,
        segments: [{ key: "", group: null, where: q.where, count }],
        total,
        groups: null,
      });
      inflight.current.add("0|0");
      tableApi.page({ ...q, offset: 0, limit: PAGE }).then((p) => {
        if (mine !== gen.current) return;
        inflight.current.delete("0|0");
        pages.current.set("0|0", p.runs);
        if (p.nextOffset == null) {
          setStructure(whole(p.runs.length, p.runs.length));
          return;
        }
        setStructure(whole(p.runs.length, null));
        tableApi.page({ ...q, columns: [], offset: 0, limit: 0, total: true }).then((c) => {
          if (mine !== gen.current) return;
          const total = c.total ?? 0;
          setStructure(whole(total, total));
        }, fail);
      }, fail);
    }
  }, [key]);

  const current = key && structure && structure.key === key ? structure : null;
  const placed = useMemo(() => {
    const out: Placed[] = [];
    let start = 0;
    for (const s of current?.segments ?? []) {
      const header = s.group ? 1 : 0;
      const open = !s.group || (s.where != null && !closed.includes(s.key));
      const shown = open ? s.count : 0;
      out.push({ ...s, start, header, shown });
      start += header + shown;
    }
    return { segments: out, count: start };
  }, [current, closed]);

  const locate = useCallback(
    (index: number): [number, number] => {
      // binary search: the last segment starting at or before index
      const segs = placed.segments;
      let lo = 0;
      let hi = segs.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (segs[mid].start <= index) lo = mid;
        else hi = mid - 1;
      }
      return [lo, index - segs[lo].start - segs[lo].header];
    },
    [placed],
  );

  const item = useCallback(
    (index: number): Item => {
      const [s, offset] = locate(index);
      const seg = placed.segments[s];
      if (offset < 0) return { kind: "group", group: seg.group!, open: seg.shown > 0, size: seg.count };
      const page = pages.current.get(`${s}|${Math.floor(offset / PAGE)}`);
      const run = page?.[offset % PAGE];
      return run ? { kind: "run", run } : { kind: "loading" };
    },
    [locate, placed],
  );

  const ensure = useCallback(
    (first: number, last: number) => {
      if (!current) return;
      const wanted = new Map<string, [number, number]>();
      for (let i = first; i < Math.min(last, placed.count); i++) {
        const [s, offset] = locate(i);
        if (offset < 0) continue;
        const page = Math.floor(offset / PAGE);
        const k = `${s}|${page}`;
        if (!pages.current.has(k) && !inflight.current.has(k)) wanted.set(k, [s, page]);
      }
      const mine = gen.current;
      for (const [k, [s, page]] of wanted) {
        const seg = placed.segments[s];
        if (seg.where == null) continue;
        inflight.current.add(k);
        tableApi.page({ ...q, where: seg.where, offset: page * PAGE, limit: PAGE }).then(
          (p) => {
            if (mine !== gen.current) return;
            inflight.current.delete(k);
            pages.current.set(k, p.runs);
            setVersion((v) => v + 1);
          },
          (e: Error) => {
            if (mine !== gen.current) return;
            inflight.current.delete(k);
            setError(e.message);
          },
        );
      }
    },
    // q is captured through key
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [current, placed, locate, key],
  );

  const runsBetween = useCallback(
    (a: number, b: number) => {
      const out: TableRun[] = [];
      for (let i = Math.min(a, b); i <= Math.max(a, b); i++) {
        const it = item(i);
        if (it.kind === "run") out.push(it.run);
      }
      return out;
    },
    [item],
  );

  return {
    ready: current != null,
    error,
    total: current ? current.total : null,
    count: placed.count,
    groups: current?.groups ?? null,
    item,
    ensure,
    runsBetween,
  };
}
