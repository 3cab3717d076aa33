// Tracks: the run's topics, and a table of the chosen topic's entries (timestamp + fields).
import { useEffect, useState } from "preact/hooks";
import { fmtTime, fmtValue } from "../format";
import { Route, setQuery } from "../route";
import { runApi } from "./api";

const SHOWN = 1000; // the newest entries shown; the count says how many there are

export function Tracks({ id, route, tick }: { id: string; route: Route; tick: number }) {
  const [topics, setTopics] = useState<string[] | null>(null);
  const [entries, setEntries] = useState<Record<string, unknown>[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const topic = route.query.get("topic") ?? topics?.[0] ?? "";
  useEffect(() => {
    runApi.topics(id).then(
      (t) => setTopics(t.topics),
      (e: Error) => setError(e.message),
    );
  }, [id, tick]);
  useEffect(() => {
    if (!topic) return;
    let live = true;
    runApi.track(id, topic).then(
      (t) => live && setEntries(t.entries),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [id, topic, tick]);
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
                  <td>{fmtTime(e.timestamp as number)}</td>
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
