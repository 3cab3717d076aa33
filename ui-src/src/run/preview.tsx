// Previews of a run's stored files and values: images, audio and video play from the file URL;
// text, JSON, YAML and logs show their first 200 kB; CSV/TSV a table of the first rows; HTML a
// sandboxed iframe (sandbox="": no scripts, no same-origin access) of the page with its scripts
// taken out first (so the sandbox has nothing to block and logs no errors); curves, histograms
// and confusion matrices (stored as values) a chart or a table. Anything else: download only.
import { useEffect, useState } from "preact/hooks";
import { fmtValue } from "../format";
import { fmtBytes, headText, TEXT_PREVIEW_BYTES } from "./files";
import { Plot } from "./plot";

const IMAGE = ["png", "jpg", "jpeg", "gif", "webp", "bmp", "svg", "ico", "avif"];
const AUDIO = ["wav", "mp3", "ogg", "flac", "m4a", "aac", "oga"];
const VIDEO = ["mp4", "webm", "ogv", "mov"];
const HTML = ["html", "htm"];
const TABLE = ["csv", "tsv"];
const BINARY = ["parquet", "feather", "arrow", "npy", "npz", "pt", "pth", "onnx", "pkl", "pickle", "h5", "hdf5", "zip", "gz", "tgz", "tar", "bz2", "xz", "zst", "safetensors", "ckpt", "bin"];
const CSV_ROWS = 100;
const HTML_MAX_BYTES = 5 * 1024 * 1024;

export type PreviewType = "image" | "audio" | "video" | "html" | "table" | "text" | "binary";

export function extOf(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : "";
}

/** How a file is shown, from its extension (and the asset kind it was logged as). */
export function previewType(path: string, kind?: string): PreviewType {
  const ext = extOf(path);
  if (kind === "image" || IMAGE.includes(ext)) return "image";
  if (kind === "audio" || AUDIO.includes(ext)) return "audio";
  if (kind === "video" || VIDEO.includes(ext)) return "video";
  if (HTML.includes(ext)) return "html";
  if (TABLE.includes(ext)) return "table";
  if (BINARY.includes(ext)) return "binary";
  return "text"; // shown as text unless its first bytes hold a NUL (then: binary)
}

export function FilePreview({ url, path, kind, size }: { url: string; path: string; kind?: string; size?: number }) {
  const type = previewType(path, kind);
  const common = { class: "preview", "data-preview": type, "data-path": path };
  switch (type) {
    case "image":
      return (
        <div {...common}>
          <img src={url} alt={path} />
        </div>
      );
    case "audio":
      return (
        <div {...common}>
          <audio controls preload="metadata" src={url} />
        </div>
      );
    case "video":
      return (
        <div {...common}>
          <video controls preload="metadata" src={url} />
        </div>
      );
    case "html":
      return <HtmlFile key={url} url={url} path={path} size={size} />;
    case "binary":
      return (
        <p {...common} class="preview muted">
          No preview for {extOf(path) ? `.${extOf(path)}` : "this"} files{size != null ? ` (${fmtBytes(size)})` : ""}: download it.
        </p>
      );
    default:
      return <TextPreview key={url} url={url} path={path} table={type === "table"} />;
  }
}

function TextPreview({ url, path, table }: { url: string; path: string; table: boolean }) {
  const [got, setGot] = useState<{ text: string; complete: boolean; size: number | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    headText(url).then(
      (t) => live && setGot(t),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [url]);
  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!got) return <p class="muted">Loading…</p>;
  if (got.text.includes("\u0000"))
    return (
      <p class="preview muted" data-preview="binary" data-path={path}>
        A binary file{got.size != null ? ` (${fmtBytes(got.size)})` : ""}: download it.
      </p>
    );
  const note = got.complete ? null : (
    <p class="muted small">
      The first {fmtBytes(TEXT_PREVIEW_BYTES)} of {got.size != null ? fmtBytes(got.size) : "the file"}.
    </p>
  );
  if (table) {
    const rows = parseDelimited(got.text, extOf(path) === "tsv" ? "\t" : ",", !got.complete);
    return (
      <div class="preview" data-preview="table" data-path={path}>
        {note}
        <CsvTable rows={rows} />
      </div>
    );
  }
  return (
    <div class="preview" data-preview="text" data-path={path}>
      {note}
      <pre class="text-preview">{got.complete && extOf(path) === "json" ? pretty(got.text) : got.text}</pre>
    </div>
  );
}

/** The page without scripts, event handlers, javascript: URLs and refreshes, with a <base> at
 * ``base`` so its relative links (images beside it) still resolve. DOMParser's document is
 * inert: nothing in it runs or loads while it is cleaned. */
export function scriptless(html: string, base: string | null): string {
  const doc = new DOMParser().parseFromString(html, "text/html");
  doc.querySelectorAll("script, meta[http-equiv]").forEach((e) => e.remove());
  doc.querySelectorAll("*").forEach((e) => {
    for (const a of [...e.attributes])
      if (a.name.toLowerCase().startsWith("on") || /^\s*javascript:/i.test(a.value)) e.removeAttribute(a.name);
  });
  if (base) {
    const tag = doc.createElement("base");
    tag.href = base;
    doc.head.prepend(tag);
  }
  return "<!doctype html>" + doc.documentElement.outerHTML;
}

function HtmlFile({ url, path, size }: { url: string; path: string; size?: number }) {
  const [html, setHtml] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const tooLarge = size != null && size > HTML_MAX_BYTES;
  useEffect(() => {
    if (tooLarge) return;
    let live = true;
    fetch(url)
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then(
        (t) => live && setHtml(scriptless(t, url)),
        (e: Error) => live && setError(e.message),
      );
    return () => {
      live = false;
    };
  }, [url, tooLarge]);
  if (tooLarge)
    return (
      <p class="preview muted" data-preview="binary" data-path={path}>
        This page is {fmtBytes(size)}, over the {fmtBytes(HTML_MAX_BYTES)} shown here: download it.
      </p>
    );
  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (html === null) return <p class="muted">Loading…</p>;
  return (
    <div class="preview" data-preview="html" data-path={path}>
      <iframe sandbox="" srcdoc={html} title={path} />
      <p class="muted small">Shown without its scripts, in a sandbox.</p>
    </div>
  );
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** Rows of CSV text (quoted fields, doubled quotes, newlines in quotes): the header, CSV_ROWS
 * rows and one more (which says there are more) at most, and without a last line that the preview's byte limit may have cut. */
export function parseDelimited(text: string, sep: string, cut: boolean): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  for (; i < text.length && rows.length <= CSV_ROWS + 1; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === sep) {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (!cut && i >= text.length && (field !== "" || row.length)) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function CsvTable({ rows }: { rows: string[][] }) {
  if (rows.length === 0) return <p class="muted">Empty table.</p>;
  const [head, ...body] = rows;
  const shown = body.slice(0, CSV_ROWS);
  return (
    <div class="table-preview">
      <table class="csv" data-rows={shown.length}>
        <thead>
          <tr>
            {head.map((h, i) => (
              <th key={i}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {shown.map((r, i) => (
            <tr key={i}>
              {r.map((v, j) => (
                <td key={j}>{v}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {body.length > CSV_ROWS && <p class="muted small">The first {CSV_ROWS} rows.</p>}
    </div>
  );
}

// --- values ------------------------------------------------------------------------------
interface Curve {
  kind?: string;
  x: number[];
  y: number[];
  annotation?: unknown;
}
interface Histogram {
  values: number[];
  counts: number[];
}
interface Confusion {
  x: unknown[];
  y: unknown[];
  z: number[][];
}

const CURVES: Record<string, [string, string, string]> = {
  roc: ["false positive rate", "true positive rate", "AUC"],
  pr: ["recall", "precision", "average precision"],
};

/** A value logged at a step: text, HTML, a curve, a histogram, a confusion matrix, or JSON. */
export function ValuePreview({ kind, name, value }: { kind: string; name: string; value: unknown }) {
  const common = { class: "preview", "data-path": name };
  if (kind === "text" && typeof value === "string")
    return (
      <div {...common} data-preview="text">
        <pre class="text-preview">{value}</pre>
      </div>
    );
  if (kind === "html" && typeof value === "string")
    return (
      <div {...common} data-preview="html">
        <iframe sandbox="" srcdoc={scriptless(value, null)} title={name} />
      </div>
    );
  if (kind === "curve" && isCurve(value)) {
    const [xLabel, yLabel, note] = CURVES[value.kind ?? ""] ?? ["x", "y", "annotation"];
    const unit = value.kind === "roc" || value.kind === "pr";
    return (
      <div {...common} data-preview="curve" data-curve={value.kind ?? "custom"}>
        <Plot title={name} xLabel={xLabel} yLabel={yLabel} x={value.x} y={value.y} unit={unit} diagonal={value.kind === "roc"} />
        {value.annotation != null && (
          <p class="small">
            {note}: <span class="annotation">{fmtValue(value.annotation)}</span>
          </p>
        )}
      </div>
    );
  }
  if (kind === "histogram" && isHistogram(value)) {
    const { values, counts } = value;
    const edges = values.length === counts.length + 1;
    const centres = edges ? counts.map((_, i) => (values[i] + values[i + 1]) / 2) : values;
    const xRange: [number, number] | undefined = edges && values[0] < values[counts.length] ? [values[0], values[counts.length]] : undefined;
    return (
      <div {...common} data-preview="histogram">
        <Plot title={name} xLabel="value" yLabel="count" x={centres} y={counts} bars xRange={xRange} />
      </div>
    );
  }
  if (kind === "confusion" && isConfusion(value))
    return (
      <div {...common} data-preview="confusion">
        <ConfusionTable value={value} />
      </div>
    );
  return (
    <div {...common} data-preview="json">
      <pre class="text-preview">{JSON.stringify(value, null, 2)}</pre>
    </div>
  );
}

function ConfusionTable({ value }: { value: Confusion }) {
  const max = Math.max(1e-12, ...value.z.flat().map(Math.abs));
  return (
    <table class="confusion" aria-label="confusion matrix (rows: actual, columns: predicted)">
      <thead>
        <tr>
          <th class="muted small">actual ╲ predicted</th>
          {value.x.map((label, i) => (
            <th key={i}>{fmtValue(label)}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {value.z.map((row, i) => (
          <tr key={i}>
            <th scope="row">{fmtValue(value.y[i])}</th>
            {row.map((v, j) => (
              <td key={j} class="num" style={{ background: `color-mix(in srgb, var(--accent) ${Math.round((Math.abs(v) / max) * 70)}%, var(--bg))` }}>
                {fmtValue(v)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const numbers = (v: unknown): v is number[] => Array.isArray(v) && v.every((n) => typeof n === "number");
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
const isCurve = (v: unknown): v is Curve => isObject(v) && numbers(v.x) && numbers(v.y) && v.x.length === v.y.length;
const isHistogram = (v: unknown): v is Histogram => isObject(v) && numbers(v.values) && numbers(v.counts);
const isConfusion = (v: unknown): v is Confusion =>
  isObject(v) && Array.isArray(v.x) && Array.isArray(v.y) && Array.isArray(v.z) && v.z.every((r) => numbers(r));
