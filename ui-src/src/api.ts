// Typed access to runlane's REST API (/api/v1). Every error answers {"error": {code, message}}.

export interface RunInfo {
  id: string;
  owner: string;
  project: string;
  name: string;
  tags: string[];
  status: string;
  statusHistory: { status: string; at: number; message?: string | null }[];
  description: string | null;
  createdAt: number;
  updatedAt: number;
  heartbeatAt: number | null;
  framework: string | null;
  backend: string | null;
}

export interface StreamInfo {
  name: string;
  count: number;
  fields: string[];
}

export interface Series {
  count: number;
  total: number;
  x: string;
  series: Record<string, { x: number[]; y: (number | null)[] }>;
}

export interface LogRecord {
  level: string;
  message: string;
  timestamp: number;
  seq: number;
}

// The server's level names (runlane.entities.LOG_LEVELS); the SDK maps warning/critical onto them.
export const LOG_LEVELS = ["debug", "info", "warn", "error", "fatal"];

export class ApiError extends Error {}

const BASE = new URL("api/v1/", document.baseURI).toString();

/** GET a JSON answer; a query value that is a list repeats its key (``?column=a&column=b``). */
export async function get<T>(
  path: string,
  query: Record<string, string | number | readonly string[] | undefined> = {},
): Promise<T> {
  const url = new URL(path, BASE);
  for (const [k, v] of Object.entries(query)) {
    if (Array.isArray(v)) v.forEach((item) => url.searchParams.append(k, item));
    else if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
  }
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) {
    const message = body?.error?.message ?? `HTTP ${response.status}`;
    throw new ApiError(message);
  }
  return body as T;
}

/** POST/PATCH a JSON body; answers the parsed JSON or throws ApiError with the server's message. */
export async function send<T>(method: "POST" | "PATCH", path: string, body: unknown): Promise<T> {
  const response = await fetch(new URL(path, BASE), {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new ApiError(answer?.error?.message ?? `HTTP ${response.status}`);
  return answer as T;
}

export const api = {
  runs: (where: string, sort: string, limit = 200) =>
    get<{ runs: RunInfo[]; nextOffset: number | null }>("runs", { where, sort, limit }),
  run: (id: string) => get<RunInfo>(`runs/${encodeURIComponent(id)}`),
  params: (id: string) => get<{ data: Record<string, unknown> }>(`runs/${encodeURIComponent(id)}/params`),
  streams: (id: string) => get<{ streams: StreamInfo[] }>(`runs/${encodeURIComponent(id)}/streams`),
  stats: (id: string, stream: string) =>
    get<{ count: number; fields: Record<string, { last: number | null; min: number | null; max: number | null }> }>(
      `runs/${encodeURIComponent(id)}/streams/${encodeURIComponent(stream)}/stats`,
    ),
  series: (id: string, stream: string, x: string, buckets: number) =>
    get<Series>(`runs/${encodeURIComponent(id)}/streams/${encodeURIComponent(stream)}/series`, { x, buckets }),
  logs: (id: string, level: string, limit = 1000) =>
    get<{ logs: LogRecord[]; nextStart: number }>(`runs/${encodeURIComponent(id)}/logs`, { level, limit }),
};
