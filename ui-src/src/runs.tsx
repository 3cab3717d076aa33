// The runs table: the server filters (the CLI's filter language), sorts, groups and computes
// column values; the rows are virtualized and fetched a page at a time as they scroll into
// view (see table/rows.ts and table/virtual.ts). Runs are selected for the compare view. The
// whole view state lives in the URL hash (table/state.ts), so a view can be shared.
import { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { duration, fmtDuration, fmtTime, fmtValue } from "./format";
import { hrefFor, Route, setQuery } from "./route";
import { Keys, Project, tableApi, TableRun } from "./table/api";
import { autoColumns, ColumnPicker, sortKeyOf } from "./table/columns";
import { Item, useRows } from "./table/rows";
import { FROM_TABLE, MAX_COMPARE, toggled, withRange } from "./table/selection";
import { joinList, readState, TableState, toQuery } from "./table/state";
import { useWindow } from "./table/virtual";

const ROW_ESTIMATE = 32; // px; the real height is measured from a rendered row
const WIDTHS = { status: 130, name: 220, tags: 180, created: 165, duration: 90, value: 130 };
const NO_KEYS: Keys = { params: [], metrics: [], meta: [] };

export function RunsTable({ route }: { route: Route }) {
  const state = readState(route);
  const update = (changes: Partial<TableState>) => setQuery(route, toQuery(changes));
  const [draft, setDraft] = useState(state.where);
  const [keys, setKeys] = useState<Keys | null>(null);
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [active, setActive] = useState(0);
  const anchor = useRef<number | null>(null);
  const [scroller, setScroller] = useState<HTMLDivElement | null>(null);

  useEffect(() => setDraft(state.where), [state.where]);
  useEffect(() => {
    let live = true;
    setKeys(null);
    tableApi.keys(state.project, "").then(
      (k) => live && setKeys(k),
      () => live && setKeys(NO_KEYS),
    );
    return () => {
      live = false;
    };
  }, [state.project]);

  const columns = state.cols ?? (keys ? autoColumns(keys) : null);
  const query = { project: state.project, where: state.where, sort: state.sort, columns: columns ?? [], group: state.group };
  const rows = useRows(query, state.closed, columns != null);
  const win = useWindow(scroller, rows.count, ROW_ESTIMATE);
  const { ensure } = rows;
  const counted = rows.total != null;
  const loadProjects = () => {
    // the project list counts every run: asked for once the table is counted (or the picker is
    // used before), so it never slows the first rows
    if (projects != null) return;
    setProjects([]);
    tableApi.projects().then(
      (p) => setProjects(p.projects),
      () => setProjects([]),
    );
  };
  useEffect(() => {
    if (counted) loadProjects();
  }, [counted]);

  useEffect(() => {
    const timer = setTimeout(() => ensure(win.first, win.last), 30);
    return () => clearTimeout(timer);
  }, [ensure, win.first, win.last]);
  const queryKey = JSON.stringify(query);
  useEffect(() => {
    if (scroller) scroller.scrollTop = 0;
    anchor.current = null;
    setActive(0);
  }, [queryKey]);

  const selected = new Set(state.sel);
  const select = (index: number, run: TableRun, shift: boolean) => {
    if (shift && anchor.current != null) {
      update({ sel: withRange(state.sel, rows.runsBetween(anchor.current, index).map((r) => r.id)) });
    } else {
      anchor.current = index;
      update({ sel: toggled(state.sel, run.id) });
    }
  };
  const focusRow = (index: number) => {
    const target = Math.max(0, Math.min(rows.count - 1, index));
    win.scrollToIndex(target);
    setActive(target);
    requestAnimationFrame(() =>
      scroller?.querySelector<HTMLElement>(`tr[data-index="${target}"]`)?.focus({ preventScroll: true }),
    );
  };
  const toggleGroup = (label: string) =>
    update({ closed: state.closed.includes(label) ? state.closed.filter((c) => c !== label) : [...state.closed, label] });
  const compare = () => {
    history.pushState(FROM_TABLE, "", hrefFor(["compare"], { runs: joinList(state.sel.slice(0, MAX_COMPARE)) }));
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  };

  const onRowKey = (e: KeyboardEvent, index: number, item: Item) => {
    const target = e.target as HTMLElement;
    const onControl = target.tagName === "INPUT" || target.tagName === "BUTTON" || target.tagName === "A";
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      focusRow(index + (e.key === "ArrowDown" ? 1 : -1));
    } else if (e.key === "Home" || e.key === "End") {
      e.preventDefault();
      focusRow(e.key === "Home" ? 0 : rows.count - 1);
    } else if (e.key === "Escape" && state.sel.length) {
      update({ sel: [] });
    } else if (onControl) {
      return; // the checkbox, link or button does its own thing
    } else if (item.kind === "run" && e.key === "Enter") {
      location.hash = hrefFor(["run", item.run.id]);
    } else if (item.kind === "run" && e.key === " ") {
      e.preventDefault();
      select(index, item.run, e.shiftKey);
    } else if (item.kind === "group" && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      toggleGroup(item.group.label);
    }
  };

  const header = (label: string, key: string | null, width: number) => {
    if (key == null) return <th style={{ width }}>{label}</th>;
    const active = state.sort === key || state.sort === "-" + key;
    const next = state.sort === key ? "-" + key : key;
    const arrow = active ? (state.sort.startsWith("-") ? " ▼" : " ▲") : "";
    return (
      <th class="sortable" style={{ width }} aria-sort={active ? (state.sort.startsWith("-") ? "descending" : "ascending") : "none"}>
        <button type="button" data-sort={key} title={label} onClick={() => update({ sort: next })}>
          {label}
          {arrow}
        </button>
      </th>
    );
  };

  const cols = columns ?? [];
  const span = 5 + cols.length;
  const width = WIDTHS.status + WIDTHS.name + WIDTHS.tags + WIDTHS.created + WIDTHS.duration + cols.length * WIDTHS.value;
  const rh = win.rowHeight;
  const shown: JSX.Element[] = [];
  for (let i = win.first; i < win.last; i++) {
    const item = rows.item(i);
    const common = {
      key: i,
      "data-index": i,
      "aria-rowindex": i + 2,
      tabIndex: i === active ? 0 : -1,
      onFocus: () => setActive(i),
      onKeyDown: (e: KeyboardEvent) => onRowKey(e, i, item),
    };
    if (item.kind === "group") {
      const { group, open } = item;
      shown.push(
        <tr {...common} class="row group-row" data-group={group.label} aria-expanded={open}>
          <td colSpan={span}>
            <button type="button" class="disclosure" aria-expanded={open} disabled={group.where == null} onClick={() => toggleGroup(group.label)}>
              {open ? "▾" : "▸"} {rows.groups?.by} = <strong>{group.label}</strong>
            </button>{" "}
            <span class="muted">
              {item.size} {item.size === 1 ? "run" : "runs"}
              {group.where == null && " (values the filter language cannot select)"}
            </span>
          </td>
        </tr>,
      );
    } else if (item.kind === "loading") {
      shown.push(
        <tr {...common} class="row loading">
          <td colSpan={span} class="muted">
            …
          </td>
        </tr>,
      );
    } else {
      const run = item.run;
      const picked = selected.has(run.id);
      shown.push(
        <tr {...common} class="row" data-run={run.id} aria-selected={picked}>
          <td>
            <input
              type="checkbox"
              aria-label={`select ${run.name}`}
              checked={picked}
              onClick={(e) => {
                e.preventDefault();
                select(i, run, e.shiftKey);
              }}
            />{" "}
            <span class={"status " + run.status}>{run.status}</span>
          </td>
          <td title={`${run.owner}/${run.project}/${run.name}`}>
            <a href={hrefFor(["run", run.id])}>{run.name}</a>
          </td>
          <td>
            {run.tags.map((t) => (
              <span class="tag" key={t}>
                {t}
              </span>
            ))}
          </td>
          <td>{fmtTime(run.createdAt)}</td>
          <td>{fmtDuration(duration(run))}</td>
          {cols.map((c) => (
            <td class="num" key={c}>
              {fmtValue(run.values?.[c])}
            </td>
          ))}
        </tr>,
      );
    }
  }

  const groupOptions = ["tags", "status", ...(keys ?? NO_KEYS).params.map((k) => `params.${k}`), ...(keys ?? NO_KEYS).meta.map((k) => `meta.${k}`)];
  if (state.group && !groupOptions.includes(state.group)) groupOptions.push(state.group);

  return (
    <section class="runs-view">
      <form
        class="filter"
        onSubmit={(e) => {
          e.preventDefault();
          update({ where: draft.trim() });
        }}
      >
        <input
          type="search"
          name="where"
          aria-label="filter"
          placeholder="filter, e.g. params.lr < 0.01 and status = 'succeeded'"
          value={draft}
          onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Filter</button>
      </form>
      <div class="toolbar">
        <select aria-label="project" value={state.project} onFocus={loadProjects} onMouseDown={loadProjects} onChange={(e) => setQuery(route, { project: (e.target as HTMLSelectElement).value, cols: "", group: "", closed: "" })}>
          <option value="">all projects</option>
          {state.project && !projects?.some((p) => `${p.owner}/${p.project}` === state.project) && <option value={state.project}>{state.project}</option>}
          {(projects ?? []).map((p) => (
            <option key={`${p.owner}/${p.project}`} value={`${p.owner}/${p.project}`}>
              {p.owner}/{p.project} ({p.runs})
            </option>
          ))}
        </select>
        <label>
          group by{" "}
          <select aria-label="group by" value={state.group} onChange={(e) => update({ group: (e.target as HTMLSelectElement).value, closed: [] })}>
            <option value="">nothing</option>
            {groupOptions.map((g) => (
              <option key={g} value={g}>
                {g}
              </option>
            ))}
          </select>
        </label>
        <ColumnPicker keys={keys} columns={cols} onChange={(next) => update({ cols: next })} />
        <span class="muted count">{rows.total != null ? `${rows.total.toLocaleString()} runs` : rows.ready ? `${rows.count}+ runs` : ""}</span>
        <span class="spacer" />
        {state.sel.length > 0 && (
          <>
            <span class="muted">{state.sel.length} selected</span>
            <button type="button" onClick={() => update({ sel: [] })}>
              Clear
            </button>
          </>
        )}
        <button type="button" class="primary" data-action="compare" disabled={state.sel.length < 2} onClick={compare}>
          Compare{state.sel.length > MAX_COMPARE ? ` first ${MAX_COMPARE}` : ""}
        </button>
      </div>
      {rows.error && (
        <p class="error" role="alert">
          {rows.error}
        </p>
      )}
      {rows.groups?.truncated && <p class="muted">Only the first {rows.groups.groups.length} groups are shown.</p>}
      {!rows.ready ? (
        <p class="muted">Loading…</p>
      ) : (
        <div class="table-scroll" ref={setScroller}>
          <table class="runs" data-count={rows.total ?? undefined} aria-rowcount={rows.count + 1} style={{ width }}>
            <thead>
              <tr aria-rowindex={1}>
                {header("Status", "status", WIDTHS.status)}
                {header("Name", "name", WIDTHS.name)}
                {header("Tags", null, WIDTHS.tags)}
                {header("Created", "created", WIDTHS.created)}
                {header("Duration", null, WIDTHS.duration)}
                {cols.map((c) => header(c, sortKeyOf(c), WIDTHS.value))}
              </tr>
            </thead>
            <tbody>
              {win.first > 0 && (
                <tr class="spacer" aria-hidden="true" style={{ height: win.first * rh }}>
                  <td colSpan={span} />
                </tr>
              )}
              {shown}
              {win.last < rows.count && (
                <tr class="spacer" aria-hidden="true" style={{ height: (rows.count - win.last) * rh }}>
                  <td colSpan={span} />
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
      {rows.ready && rows.count === 0 && !rows.error && <p class="muted">No runs match.</p>}
    </section>
  );
}
