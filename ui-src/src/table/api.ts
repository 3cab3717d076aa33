// The REST calls of the runs table: pages of runs with column values and a total, groups, the
// keys its column picker offers, and the projects (see src/runlane/server/runs_table.py).
import { get, RunInfo } from "../api";

export interface TableRun extends RunInfo {
  /** column → value for the columns asked for (a column the run lacks is absent) */
  values?: Record<string, unknown>;
}

export interface RunsPage {
  runs: TableRun[];
  offset: number;
  limit: number;
  nextOffset: number | null;
  total?: number;
}

export interface Group {
  value: unknown;
  label: string;
  count: number;
  /** a filter that selects exactly this group's runs; null when it cannot be written */
  where: string | null;
}

export interface Groups {
  by: string;
  total: number;
  groups: Group[];
  truncated: boolean;
}

export interface Keys {
  params: string[];
  metrics: string[];
  meta: string[];
}

export interface Project {
  owner: string;
  project: string;
  runs: number;
}

export interface PageQuery {
  project: string;
  where: string;
  sort: string;
  columns: readonly string[];
  offset: number;
  limit: number;
  total?: boolean;
}

export const tableApi = {
  page: (q: PageQuery) =>
    get<RunsPage>("runs", {
      project: q.project,
      where: q.where,
      sort: q.sort,
      column: q.columns,
      offset: q.offset,
      limit: q.limit,
      total: q.total ? 1 : undefined,
    }),
  groups: (project: string, where: string, by: string) => get<Groups>("runs/groups", { project, where, by }),
  keys: (project: string, where: string) => get<Keys>("runs/keys", { project, where }),
  projects: () => get<{ projects: Project[] }>("projects"),
};

/** ``(a) and (b)``, or whichever is not blank. */
export function conjoin(a: string, b: string): string {
  if (!a.trim()) return b;
  if (!b.trim()) return a;
  return `(${a}) and (${b})`;
}
