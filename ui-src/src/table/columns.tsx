// The optional columns of the runs table (params, meta, last/min/max of metrics) and the
// picker that chooses them. A column id is what the server's ?column= takes:
// params.<key>, meta.<key>, metrics.<key> (the last value) or metrics.<key>:min / :max.
import { useEffect, useRef, useState } from "preact/hooks";
import { Keys } from "./api";

export const AGGREGATES = ["last", "min", "max"] as const;
const AUTO = 3; // params and metrics shown before any are chosen

/** The server sort key of a column, or null when the server cannot sort on it. */
export function sortKeyOf(column: string): string | null {
  if (column.startsWith("metrics.")) return column.includes(":") ? null : column;
  return column;
}

export function metricColumn(key: string, aggregate: (typeof AGGREGATES)[number]): string {
  return aggregate === "last" ? `metrics.${key}` : `metrics.${key}:${aggregate}`;
}

/** The columns shown before the user chose any: the most common params and metrics. */
export function autoColumns(keys: Keys): string[] {
  return [...keys.params.slice(0, AUTO).map((k) => `params.${k}`), ...keys.metrics.slice(0, AUTO).map((k) => `metrics.${k}`)];
}

export function ColumnPicker({ keys, columns, onChange }: { keys: Keys | null; columns: string[]; onChange: (columns: string[]) => void }) {
  const [open, setOpen] = useState(false);
  const [search, setSearch] = useState("");
  const button = useRef<HTMLButtonElement>(null);
  const panel = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    panel.current?.querySelector<HTMLInputElement>("input")?.focus();
    const away = (e: MouseEvent) => {
      if (!panel.current?.contains(e.target as Node) && e.target !== button.current) setOpen(false);
    };
    document.addEventListener("mousedown", away);
    return () => document.removeEventListener("mousedown", away);
  }, [open]);

  const close = () => {
    setOpen(false);
    button.current?.focus();
  };
  const toggle = (column: string) =>
    onChange(columns.includes(column) ? columns.filter((c) => c !== column) : [...columns, column]);
  const matches = (k: string) => k.toLowerCase().includes(search.trim().toLowerCase());
  const box = (column: string, label: string) => (
    <label key={column} class="pick">
      <input type="checkbox" data-column={column} checked={columns.includes(column)} onChange={() => toggle(column)} /> {label}
    </label>
  );

  return (
    <div class="picker">
      <button type="button" ref={button} aria-expanded={open} aria-haspopup="dialog" onClick={() => (open ? close() : setOpen(true))}>
        Columns
      </button>
      {open && (
        <div
          class="popover"
          role="dialog"
          aria-label="columns"
          ref={panel}
          onKeyDown={(e) => {
            if (e.key === "Escape") {
              e.stopPropagation();
              close();
            }
          }}
        >
          <input type="search" aria-label="find a column" placeholder="find a key" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
          {keys == null ? (
            <p class="muted">Loading…</p>
          ) : (
            <>
              <h4>Params</h4>
              {keys.params.filter(matches).map((k) => box(`params.${k}`, k))}
              {keys.params.length === 0 && <p class="muted small">none</p>}
              <h4>Metrics</h4>
              {keys.metrics.filter(matches).map((k) => (
                <div class="pick-metric" key={k}>
                  <span>{k}</span>
                  {AGGREGATES.map((a) => box(metricColumn(k, a), a))}
                </div>
              ))}
              {keys.metrics.length === 0 && <p class="muted small">none</p>}
              {keys.meta.length > 0 && <h4>Meta</h4>}
              {keys.meta.filter(matches).map((k) => box(`meta.${k}`, k))}
            </>
          )}
          <div class="toolbar">
            <button type="button" onClick={() => onChange([])}>
              Clear
            </button>
            <button type="button" onClick={close}>
              Done
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
