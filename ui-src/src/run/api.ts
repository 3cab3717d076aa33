// The REST calls of the run page (on top of ../api's get/send): series ranges and appends,
// log search and follow, run edits, metadata documents, events and tracks (both with a cursor
// for live polls).
import { get, LogRecord, RunInfo, send, Series } from "../api";

export interface RunDetail extends RunInfo {
  folder: string | null;
  group: string | null;
  externalId: string | null;
  path: string | null;
  extra: Record<string, unknown>;
}

export interface EventRecord {
  name: string;
  wallclock: number;
  source: string | null;
  metadata: Record<string, unknown> | null;
}

export interface TrackEntry extends Record<string, unknown> {
  timestamp: number;
}

export interface LogLine extends LogRecord {
  source: string | null;
  metadata: Record<string, unknown> | null;
}

export interface SeriesQuery {
  fields?: string;
  x: string;
  buckets: number;
  /** keep points with start <= x < end (a zoomed chart's range, in the server's x units) */
  start?: number;
  end?: number;
  /** only rows with index >= since: the previous answer's total (live appends) */
  since?: number;
}

const run = (id: string) => `runs/${encodeURIComponent(id)}`;

export const runApi = {
  run: (id: string) => get<RunDetail>(run(id)),
  series: (id: string, stream: string, q: SeriesQuery) =>
    get<Series>(`${run(id)}/streams/${encodeURIComponent(stream)}/series`, { ...q }),
  logs: (id: string, q: { start: number; limit: number; level?: string; q?: string }) =>
    get<{ logs: LogLine[]; nextStart: number }>(`${run(id)}/logs`, { ...q }),
  metadata: (id: string) =>
    get<{ metadata: Record<string, { value: Record<string, unknown>; updatedAt: number }> }>(`${run(id)}/metadata`),
  /** events from position `start` in append order; `next` is the run's event count (poll from it) */
  events: (id: string, start = 0) => get<{ events: EventRecord[]; next: number }>(`${run(id)}/events`, { start }),
  topics: (id: string) => get<{ topics: string[] }>(`${run(id)}/tracks`),
  /** entries with timestamp >= start (all without it); `total` counts the whole topic */
  track: (id: string, topic: string, start?: number) =>
    get<{ entries: TrackEntry[]; total: number }>(`${run(id)}/tracks/${topic.split("/").map(encodeURIComponent).join("/")}`, {
      start,
      total: "true",
    }),
  setDescription: (id: string, description: string) => send<RunDetail>("PATCH", run(id), { description }),
  setTags: (id: string, tags: string[], reset: boolean) => send<RunDetail>("POST", `${run(id)}/tags`, { tags, reset }),
};
