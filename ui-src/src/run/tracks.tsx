// Tracks: the run's topics, and a table of the chosen topic's entries (timestamp + fields).
// While the run is live each tick fetches only the entries at or after the last timestamp held
// (the last one again: entries written at one timestamp merge, so it may have gained fields);
// when the topic's total says an entry arrived before that timestamp, the topic is read again.
import { useEffect, useRef, useState } from "preact/hooks";
import { fmtTime, fmtValue } from "../format";
import { Route, setQuery } from "../route";
import { runApi, TrackEntry } from "./api";

const SHOWN = 1000; // the newest entries shown; the count says how many there are

interface Held {
  key: string;
  entries: TrackEntry[];
}

/** `held`'s entries before `start`, then `fresh` (the answer for timestamps >= start). */
function spliced(held: TrackEntry[], start: number, fresh: TrackEntry[]): TrackEntry[] {
  let keep = held.length;
  while (keep > 0 && held[keep - 1].timestamp >= start) keep -= 1;
  return held.slice(0, keep).concat(fresh);
}

const same = (a: TrackEntry[], b: TrackEntry[]) => a.length === b.length && JSON.stringify(a.slice(-1)) === JSON.stringify(b.slice(-1));

export function Tracks({ id, route, tick }: { id: string; route: Route; tick: number }) {
  const [topics, setTopics] = useState<string[] | null>(null);
  const [held, setHeld] = useState<Held | null>(null);
  const [error, setError] = useState<string | null>(null);
  const topic = route.query.get("topic") ?? topics?.[0] ?? "";
  const key = `${id}\u0000${topic}`;
  const current = useRef(held);
  current.current = held;

  useEffect(() => {
    runApi.topics(id).then(
      (t) => setTopics(t.topics),
      (e: Error) => setError(e.message),
    );
  }, [id, tick]);

  /** Reads the topic from the last timestamp of `from` on (null or empty: all of it). */
  const fetchFrom = (from: Held | null) => {
    const last = from?.entries[from.entries.length - 1];
    runApi.track(id, topic, last?.timestamp).then(
      (t) => {
        if (current.current !== from) return; // the topic changed, or another answer came first
        setError(null);
        const entries = from && last ? spliced(from.entries, last.timestamp, t.entries) : t.entries;
        if (from && entries.length !== t.total) {
          // an entry arrived before the last timestamp held: read the whole topic again
          setHeld((current.current = null));
          fetchFrom(null);
        } else if (!from || !same(entries, from.entries)) setHeld({ key, entries });
      },
      (e: Error) => setError(e.message),
    );
  };

  useEffect(() => {
    if (!topic) return;
    setHeld(null);
    current.current = null;
    fetchFrom(null);
  }, [key]);

  useEffect(() => {
    const from = current.current;
    if (tick && from && from.key === key) fetchFrom(from);
  }, [tick]);

  const entries = held?.key === key ? held.entries : null;
  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!topics) return <p class="muted">Loading…</p>;
  if (topics.length === 0) return <p class="muted">No tracks.</p>;
  const shown = (entries ?? []).slice(-SHOWN);
  const columns = [...new Set(shown.flatMap((e) => Object.keys(e)))].filter((k) => k !== "timestamp");
  return (
    <div class="tracks-tab">
      <div class="toolbar" role="group" aria-label="track topics">
        {topics.map((t) => (
          <button type="button" key={t} data-topic={t} aria-pressed={t === topic} onClick={() => setQuery(route, { topic: t })}>
            {t}
          </button>
        ))}
      </div>
      {entries && (
        <>
          <p class="muted small">
            {entries.length} entries{entries.length > SHOWN ? `, the last ${SHOWN} shown` : ""}
          </p>
          <table class="track" data-topic={topic} data-count={entries.length}>
            <thead>
              <tr>
                <th>timestamp</th>
                {columns.map((c) => (
                  <th key={c}>{c}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((e, i) => (
                <tr key={i}>
                  <td>{fmtTime(e.timestamp)}</td>
                  {columns.map((c) => (
                    <td key={c} class="num">
                      {fmtValue(e[c])}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
