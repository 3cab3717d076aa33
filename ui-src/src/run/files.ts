// The REST calls of the artifacts, assets, models and lineage tabs, their answers' types, and
// the URLs of stored files (previews load them; `download` adds ?download=1, an attachment).
import { get } from "../api";

export interface FileEntry {
  path: string;
  size: number;
  sha256: string;
}

/** One logged artifact, asset, value, version or model of a run (artifacts/records.py). */
export interface ArtifactRecord {
  run_id: string;
  name: string;
  kind: string;
  mode: "output" | "asset" | "event" | "version" | "model";
  path: string | null;
  step: number | null;
  is_dir: boolean;
  files: FileEntry[];
  size: number;
  at: number;
  value?: unknown;
  version?: string;
}

export interface AssetStep {
  step: number | null;
  path: string;
  timestamp: number;
  size: number;
  /** values (text, html, curves, histograms, confusion matrices) are inline */
  value?: unknown;
}

export interface Asset {
  kind: string;
  name: string;
  steps: AssetStep[];
}

export interface Checkpoint {
  id: string;
  epoch: number;
  metrics: Record<string, number>;
  created_at: number;
  artifact: string | null;
}

export interface LineageRecord {
  name: string;
  kind: string;
  path: string | null;
  is_input: boolean;
  summary: Record<string, unknown> | null;
}

interface Versioned {
  name: string;
  version: string;
  run_id: string | null;
  size: number;
  files: FileEntry[];
  created_at: number;
  aliases: string[];
  description: string | null;
  metadata: Record<string, unknown> | null;
}

export interface ModelVersion extends Versioned {
  framework: string | null;
  step: number | null;
}

export interface ArtifactVersion extends Versioned {
  type: string;
}

export interface ModelDetail {
  model: { name: string; description: string | null; aliases: Record<string, string> };
  versions: ModelVersion[];
  aliases: Record<string, string>;
}

export interface GraphNode {
  id: string;
  kind: string;
  label: string;
  name: string;
  run_id: string | null;
  column: number;
  attrs: Record<string, unknown>;
  producers: string[];
  consumers: string[];
}

export interface LineageGraph {
  run: string;
  depth: number;
  nodes: GraphNode[];
  edges: { source: string; target: string }[];
  hidden: Record<string, number>;
}

const BASE = new URL("api/v1/", document.baseURI);
const enc = encodeURIComponent;
const segments = (path: string) => path.split("/").map(enc).join("/");
const run = (id: string) => `runs/${enc(id)}`;
const project = (owner: string, name: string) => `projects/${enc(owner)}/${enc(name)}`;

function url(path: string, download: boolean): string {
  return new URL(path + (download ? "?download=1" : ""), BASE).toString();
}

/** A run's file (``outputs/...``, ``assets/...``, ``events/...``). */
export function runFileUrl(runId: string, path: string, download = false): string {
  return url(`${run(runId)}/files/${segments(path)}`, download);
}

export function modelFileUrl(owner: string, proj: string, name: string, version: string, path: string): string {
  return url(`${project(owner, proj)}/models/${enc(name)}/versions/${enc(version)}/files/${segments(path)}`, true);
}

export function versionFileUrl(owner: string, proj: string, name: string, version: string, path: string): string {
  return url(`${project(owner, proj)}/artifacts/${enc(name)}/versions/${enc(version)}/files/${segments(path)}`, true);
}

export const filesApi = {
  records: (id: string) => get<{ artifacts: ArtifactRecord[] }>(`${run(id)}/artifacts`),
  assets: (id: string) => get<{ assets: Asset[] }>(`${run(id)}/assets`),
  checkpoints: (id: string) => get<{ checkpoints: Checkpoint[] }>(`${run(id)}/checkpoints`),
  lineage: (id: string) => get<{ lineage: LineageRecord[] }>(`${run(id)}/lineage`),
  graph: (id: string, depth: number) => get<LineageGraph>(`${run(id)}/lineage/graph`, { depth }),
  model: (owner: string, proj: string, name: string) => get<ModelDetail>(`${project(owner, proj)}/models/${enc(name)}`),
  artifactVersions: (owner: string, proj: string, name: string) =>
    get<{ versions: ArtifactVersion[] }>(`${project(owner, proj)}/artifacts/${enc(name)}/versions`),
};

export const TEXT_PREVIEW_BYTES = 200 * 1024;

/** The first TEXT_PREVIEW_BYTES of a file as text (a Range request), whether that is all of
 * it, and the file's size when the server says. */
export async function headText(fileUrl: string): Promise<{ text: string; complete: boolean; size: number | null }> {
  const response = await fetch(fileUrl, { headers: { Range: `bytes=0-${TEXT_PREVIEW_BYTES - 1}` } });
  if (response.status === 416) return { text: "", complete: true, size: 0 }; // an empty file
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
  }
  const total = response.headers.get("content-range")?.split("/")[1];
  const size = total && total !== "*" ? Number(total) : response.status === 200 ? Number(response.headers.get("content-length")) : NaN;
  const bytes = new Uint8Array(await response.arrayBuffer());
  const head = bytes.subarray(0, TEXT_PREVIEW_BYTES);
  const complete = head.length === bytes.length && (response.status === 200 || head.length >= size);
  return { text: new TextDecoder().decode(head), complete, size: isFinite(size) ? size : null };
}

export function fmtBytes(n: number | null | undefined): string {
  if (n == null) return "";
  if (n < 1024) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
