// Params: a search box over keys and values, a flat table of dotted keys, or a nested tree.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api } from "../api";
import { fmtValue } from "../format";
import { Route, setQuery } from "../route";

interface Node {
  children: Map<string, Node>;
  value?: unknown;
  leaf: boolean;
}

/** Dotted keys ("model.depth") as a tree of their segments. */
function treeOf(keys: string[], params: Record<string, unknown>): Node {
  const root: Node = { children: new Map(), leaf: false };
  for (const key of keys) {
    let node = root;
    for (const part of key.split(".")) {
      let next = node.children.get(part);
      if (!next) {
        next = { children: new Map(), leaf: false };
        node.children.set(part, next);
      }
      node = next;
    }
    node.leaf = true;
    node.value = params[key];
  }
  return root;
}

function Tree({ node, path }: { node: Node; path: string }) {
  return (
    <ul class="tree">
      {[...node.children].map(([name, child]) => {
        const key = path ? `${path}.${name}` : name;
        return (
          <li key={name} data-key={key}>
            {child.leaf && (
              <>
                <span class="param-key">{name}</span>: <span class="param-value">{fmtValue(child.value)}</span>
              </>
            )}
            {child.children.size > 0 && (
              <details open>
                <summary>{name}</summary>
                <Tree node={child} path={key} />
              </details>
            )}
          </li>
        );
      })}
    </ul>
  );
}

export function Params({ id, route }: { id: string; route: Route }) {
  const [params, setParams] = useState<Record<string, unknown> | null>(null);
  const view = route.query.get("pview") === "tree" ? "tree" : "flat";
  const search = route.query.get("psearch") ?? "";
  useEffect(() => {
    api.params(id).then(
      (p) => setParams(p.data),
      () => setParams({}),
    );
  }, [id]);
  const keys = useMemo(() => {
    const needle = search.toLowerCase();
    return Object.keys(params ?? {})
      .sort()
      .filter((k) => !needle || k.toLowerCase().includes(needle) || fmtValue(params![k]).toLowerCase().includes(needle));
  }, [params, search]);
  if (!params) return <p class="muted">Loading…</p>;
  return (
    <div class="params-tab">
      <div class="toolbar">
        <input
          type="search"
          name="psearch"
          aria-label="search params"
          placeholder="search params…"
          value={search}
          onInput={(e) => setQuery(route, { psearch: (e.target as HTMLInputElement).value })}
        />
        <span role="group" aria-label="params view">
          {(["flat", "tree"] as const).map((v) => (
            <button type="button" key={v} data-view={v} aria-pressed={view === v} onClick={() => setQuery(route, { pview: v === "flat" ? "" : v })}>
              {v}
            </button>
          ))}
        </span>
        <span class="muted small">
          {keys.length} of {Object.keys(params).length}
        </span>
      </div>
      {Object.keys(params).length === 0 && <p class="muted">No params.</p>}
      {view === "flat" ? (
        <table class="params" data-count={keys.length}>
          <tbody>
            {keys.map((k) => (
              <tr key={k}>
                <th>{k}</th>
                <td>{fmtValue(params[k])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <div class="params-tree" data-count={keys.length}>
          <Tree node={treeOf(keys, params)} path="" />
        </div>
      )}
    </div>
  );
}
