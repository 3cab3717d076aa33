// Events: a timeline (one mark per event, placed by wallclock from the run's creation) and a
// table; marks and rows are focusable, and selecting one highlights its twin. While the run is
// live each tick fetches only the events written after the last answer (a position cursor, so
// events sharing a wallclock or written out of wallclock order are each shown exactly once).
import { useEffect, useRef, useState } from "preact/hooks";
import { fmtDuration, fmtTime } from "../format";
import { EventRecord, runApi } from "./api";

const MARKS = 500; // marks drawn on the timeline at most (the table lists every event)

interface Held {
  id: string;
  events: EventRecord[];
  /** the position after the last event held: the next poll's `start` */
  next: number;
}

export function Events({ id, createdAt, tick }: { id: string; createdAt: number; tick: number }) {
  const [held, setHeld] = useState<Held | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<number | null>(null);
  const current = useRef(held);
  current.current = held;

  /** Fetches the events from `from.next` and appends them (null: all the events of `id`). */
  const fetchFrom = (from: Held | null) => {
    runApi.events(id, from?.next ?? 0).then(
      (e) => {
        if (current.current !== from) return; // another answer (or another run) came first
        setError(null);
        if (from && e.next === from.next) return; // nothing new
        if (from && e.next < from.next) {
          // fewer events than held (the store was rewritten): read them all again
          setHeld((current.current = null));
          fetchFrom(null);
          return;
        }
        setHeld({ id, events: (from?.events ?? []).concat(e.events), next: e.next });
      },
      (e: Error) => setError(e.message),
    );
  };

  useEffect(() => {
    setHeld(null);
    current.current = null;
    fetchFrom(null);
  }, [id]);

  useEffect(() => {
    const from = current.current;
    if (tick && from && from.id === id) fetchFrom(from);
  }, [tick]);

  const events = held?.id === id ? held.events : null;
  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!events) return <p class="muted">Loading…</p>;
  if (events.length === 0) return <p class="muted">No events.</p>;
  const start = events.reduce((m, e) => Math.min(m, e.wallclock), createdAt);
  const end = events.reduce((m, e) => Math.max(m, e.wallclock), start);
  const span = end - start || 1;
  const step = Math.max(1, Math.ceil(events.length / MARKS));
  return (
    <div class="events-tab">
      <div class="timeline" role="list" aria-label="events timeline" data-count={events.length}>
        {events.map((e, i) =>
          i % step === 0 ? (
            <button
              type="button"
              role="listitem"
              key={i}
              class={"mark" + (picked === i ? " picked" : "")}
              style={{ left: `${((e.wallclock - start) / span) * 100}%` }}
              title={`${e.name} · +${fmtDuration(e.wallclock - createdAt)}`}
              aria-label={`${e.name} at ${fmtTime(e.wallclock)}`}
              onClick={() => setPicked(i)}
            />
          ) : null,
        )}
        <span class="muted small edge start">{fmtTime(start)}</span>
        <span class="muted small edge end">+{fmtDuration(end - start)}</span>
      </div>
      <table class="events" data-count={events.length}>
        <thead>
          <tr>
            <th>time</th>
            <th>since start</th>
            <th>name</th>
            <th>source</th>
            <th>metadata</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e, i) => (
            <tr key={i} class={picked === i ? "picked" : ""} tabIndex={0} onFocus={() => setPicked(i)}>
              <td>{fmtTime(e.wallclock)}</td>
              <td>+{fmtDuration(e.wallclock - createdAt)}</td>
              <td>{e.name}</td>
              <td>{e.source ?? ""}</td>
              <td class="mono">{e.metadata ? JSON.stringify(e.metadata) : ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
