// Logs: minimum level and text search (both done by the server), pages by sequence number, and
// follow: while the run is running each tick fetches only the lines after the last one seen.
import { useEffect, useRef, useState } from "preact/hooks";
import { LOG_LEVELS } from "../api";
import { fmtTime } from "../format";
import { parseHash, Route, setQuery } from "../route";
import { LogLine, runApi } from "./api";

const PAGE = 1000;
const KEEP = 20_000; // lines kept on the page; older ones are dropped while following
const SEARCH_DELAY = 250;

interface Held {
  key: string;
  lines: LogLine[];
  next: number;
  more: boolean;
}

export function Logs({ id, route, tick, running }: { id: string; route: Route; tick: number; running: boolean }) {
  const level = route.query.get("level") ?? "";
  const q = route.query.get("q") ?? "";
  const follow = route.query.get("follow") !== "0";
  const key = `${id}\u0000${level}\u0000${q}`;
  const [held, setHeld] = useState<Held | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [draft, setDraft] = useState(q);
  const current = useRef(held);
  current.current = held;
  const box = useRef<HTMLOListElement>(null);

  useEffect(() => setDraft(q), [q]);
  useEffect(() => {
    if (draft === q) return;
    // the route as it is when the timer fires: other controls may have changed it meanwhile
    const timer = setTimeout(() => setQuery(parseHash(location.hash), { q: draft }), SEARCH_DELAY);
    return () => clearTimeout(timer);
  }, [draft]);

  const latest = useRef(key);
  latest.current = key;

  /** Fetches a page from `start` and appends it to `from` (null: the first page of `key`). */
  const fetchFrom = (from: Held | null, start: number) => {
    const asked = key;
    runApi.logs(id, { start, limit: PAGE, level, q }).then(
      (page) => {
        if (latest.current !== asked || current.current !== from) return; // filters changed or raced
        const lines = (from?.lines ?? []).concat(page.logs);
        setHeld({ key, lines: lines.length > KEEP ? lines.slice(-KEEP) : lines, next: page.nextStart, more: page.logs.length === PAGE });
        setError(null);
      },
      (e: Error) => setError(e.message),
    );
  };

  useEffect(() => {
    setHeld(null);
    current.current = null;
    fetchFrom(null, 0);
  }, [key]);

  useEffect(() => {
    const from = current.current;
    if (!tick || !follow || !from || from.key !== key) return;
    fetchFrom(from, from.next);
  }, [tick]);

  useEffect(() => {
    const el = box.current;
    if (el && follow && running) el.scrollTop = el.scrollHeight;
  }, [held, follow, running]);

  return (
    <div class="logs-tab">
      <div class="toolbar">
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
        <input
          type="search"
          name="q"
          aria-label="search logs"
          placeholder="search logs…"
          value={draft}
          onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => e.key === "Enter" && setQuery(route, { q: draft })}
        />
        <label>
          <input type="checkbox" name="follow" checked={follow} onChange={() => setQuery(route, { follow: follow ? "0" : "" })} /> follow
          {running ? "" : " (run ended)"}
        </label>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {held && (
        <ol class="logs" ref={box} data-count={held.lines.length} data-next={held.next}>
          {held.lines.map((l) => (
            <li key={l.seq} class={"log " + l.level} data-seq={l.seq}>
              <span class="muted">{fmtTime(l.timestamp)}</span> <span class="level">{l.level}</span>
              {l.source ? <span class="muted"> [{l.source}]</span> : null} {l.message}
            </li>
          ))}
        </ol>
      )}
      {held && held.lines.length === 0 && <p class="muted">{q || level ? "No matching logs." : "No logs."}</p>}
      {held?.more && (
        <button type="button" class="more" onClick={() => fetchFrom(held, held.next)}>
          load more
        </button>
      )}
    </div>
  );
}
