// The runs table's view state, kept in the URL hash so a view can be shared:
// #/?project=o/p&where=..&sort=-created&cols=params.lr,metrics.loss:min&group=params.lr&closed=..&sel=id1,id2
// Lists are comma-joined with '%' and ',' in items escaped, so keys holding commas survive.
import { Route } from "../route";

export interface TableState {
  project: string;
  where: string;
  sort: string;
  /** chosen columns; null: not chosen yet (the table picks a few from the runs' keys) */
  cols: string[] | null;
  /** a field to group by (params.<key>, meta.<key>, tags, status, ...) or "" */
  group: string;
  /** labels of the collapsed groups */
  closed: string[];
  /** ids of the selected runs, in the order they were selected */
  sel: string[];
}

export const DEFAULT_SORT = "-created";
/** ``cols`` when every optional column was removed (a column always starts with params./metrics./meta.) */
const NO_COLUMNS = "none";

export function splitList(text: string | null): string[] {
  if (!text) return [];
  return text.split(",").filter(Boolean).map(decodeURIComponent);
}

export function joinList(items: readonly string[]): string {
  // only what would break the list is escaped, so the URL stays readable
  return items.map((item) => item.replace(/%/g, "%25").replace(/,/g, "%2C")).join(",");
}

export function readState(route: Route): TableState {
  const q = route.query;
  const cols = q.get("cols");
  return {
    project: q.get("project") ?? "",
    where: q.get("where") ?? "",
    sort: q.get("sort") || DEFAULT_SORT,
    cols: cols == null ? null : cols === NO_COLUMNS ? [] : splitList(cols),
    group: q.get("group") ?? "",
    closed: splitList(q.get("closed")),
    sel: splitList(q.get("sel")),
  };
}

/** The URL query changes that write ``changes`` (list fields joined, a blank value drops its key). */
export function toQuery(changes: Partial<TableState>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(changes)) {
    if (value == null) continue;
    if (key === "cols" && Array.isArray(value) && value.length === 0) out[key] = NO_COLUMNS;
    else out[key] = Array.isArray(value) ? joinList(value) : String(value);
  }
  return out;
}
