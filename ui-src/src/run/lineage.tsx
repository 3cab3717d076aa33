// The Lineage tab: the run's lineage neighbourhood (GET /runs/{id}/lineage/graph, walked across
// the project's runs by the server) drawn as an SVG graph in columns — the runs that produced
// its inputs, its inputs, the run, its outputs, the runs that used them. A node with somewhere
// to go is a link (focusable; Enter opens it): a run; an input → the run that produced it; an
// output → the run that used it, else this run's file or models tab. `depth` is in the URL.
import { useEffect, useState } from "preact/hooks";
import { hrefFor, Route, setQuery } from "../route";
import { filesApi, GraphNode, LineageGraph } from "./files";

const W = 200;
const H = 42;
const GAP_X = 72;
const GAP_Y = 14;
const PAD = 8;
const HEAD = 22;
const DEPTHS = [1, 2, 3, 4];
const NAME_CHARS = 26;

function columnTitle(c: number): string {
  if (c === 0) return "this run";
  const titles: Record<number, string> = { [-1]: "inputs", [-2]: "produced by", [1]: "outputs", [2]: "used by" };
  return titles[c] ?? (c < 0 ? `upstream ${-c}` : `downstream ${c}`);
}

/** Where a node leads (see the module comment), or null. */
export function targetOf(node: GraphNode, runId: string): string | null {
  if (node.kind === "run") return node.run_id && node.run_id !== runId ? hrefFor(["run", node.run_id], { tab: "lineage" }) : null;
  const others = (node.column < 0 ? node.producers : node.consumers).filter((r) => r !== runId);
  if (others.length) return hrefFor(["run", others[0]], { tab: "lineage" });
  if (node.column > 0 && node.producers.includes(runId)) {
    if (node.id.startsWith("model:") || node.id.startsWith("artifact:")) return hrefFor(["run", runId], { tab: "models" });
    const path = node.attrs.path;
    if (typeof path === "string" && !path.includes("://") && !path.startsWith("/")) return hrefFor(["run", runId], { tab: "artifacts", file: path });
  }
  return null;
}

const short = (text: string) => (text.length > NAME_CHARS ? text.slice(0, NAME_CHARS - 1) + "…" : text);

export function Lineage({ id, route }: { id: string; route: Route }) {
  const depth = Math.max(1, Math.min(4, Number(route.query.get("depth")) || 2));
  const [graph, setGraph] = useState<LineageGraph | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    filesApi.graph(id, depth).then(
      (g) => live && setGraph(g),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [id, depth]);
  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!graph) return <p class="muted">Loading…</p>;
  const hidden = Object.entries(graph.hidden);
  return (
    <div class="lineage-tab">
      <div class="toolbar">
        <label>
          depth{" "}
          <select value={String(depth)} onChange={(e) => setQuery(route, { depth: (e.currentTarget as HTMLSelectElement).value })}>
            {DEPTHS.map((d) => (
              <option key={d} value={String(d)}>
                {d}
              </option>
            ))}
          </select>
        </label>
        <span class="muted small">Edges follow the data: inputs → run → outputs. Select a node to open the run that produced or used it.</span>
      </div>
      {graph.nodes.length <= 1 ? <p class="muted">No lineage recorded (inputs, outputs, references).</p> : <Graph graph={graph} runId={id} />}
      {hidden.length > 0 && (
        <p class="muted small">
          Not shown: {hidden.map(([c, n]) => `${n} in “${columnTitle(Number(c))}”`).join(", ")}.
        </p>
      )}
    </div>
  );
}

function Graph({ graph, runId }: { graph: LineageGraph; runId: string }) {
  const columns = [...new Set(graph.nodes.map((n) => n.column))].sort((a, b) => a - b);
  const byColumn = new Map(columns.map((c) => [c, graph.nodes.filter((n) => n.column === c)]));
  const rows = Math.max(...[...byColumn.values()].map((ns) => ns.length));
  const height = HEAD + rows * (H + GAP_Y) - GAP_Y + 2 * PAD;
  const width = columns.length * (W + GAP_X) - GAP_X + 2 * PAD;
  const at = new Map<string, { x: number; y: number }>();
  columns.forEach((c, i) => {
    const nodes = byColumn.get(c)!;
    const top = PAD + HEAD + ((rows - nodes.length) * (H + GAP_Y)) / 2;
    nodes.forEach((n, j) => at.set(n.id, { x: PAD + i * (W + GAP_X), y: top + j * (H + GAP_Y) }));
  });
  return (
    <div class="lineage-scroll">
      <svg class="lineage" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="group" aria-label="lineage graph" data-nodes={graph.nodes.length} data-edges={graph.edges.length}>
        <defs>
          <marker id="lineage-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrow" />
          </marker>
        </defs>
        {columns.map((c, i) => (
          <text key={c} class="column-title" x={PAD + i * (W + GAP_X) + W / 2} y={PAD + 12} text-anchor="middle">
            {columnTitle(c)}
          </text>
        ))}
        {graph.edges.map((e) => {
          const a = at.get(e.source);
          const b = at.get(e.target);
          if (!a || !b) return null;
          const [x1, y1, x2, y2] = [a.x + W, a.y + H / 2, b.x, b.y + H / 2];
          const bend = Math.max(24, Math.abs(x2 - x1) / 2);
          return (
            <path
              key={`${e.source}→${e.target}`}
              class="edge"
              data-source={e.source}
              data-target={e.target}
              d={`M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`}
              marker-end="url(#lineage-arrow)"
            />
          );
        })}
        {graph.nodes.map((n) => (
          <NodeBox key={n.id} node={n} pos={at.get(n.id)!} runId={runId} />
        ))}
      </svg>
    </div>
  );
}

function NodeBox({ node, pos, runId }: { node: GraphNode; pos: { x: number; y: number }; runId: string }) {
  const target = targetOf(node, runId);
  const current = node.kind === "run" && node.run_id === runId;
  const status = node.kind === "run" ? String(node.attrs.status ?? "") : "";
  const detail =
    node.kind === "run"
      ? `run ${node.label}${status ? ` (${status})` : ""}`
      : `${node.kind} ${node.label}; produced by ${node.producers.length} run(s), used by ${node.consumers.length}`;
  const box = (
    <g
      class={`node${node.kind === "run" ? " run" : ""}${current ? " current" : ""}`}
      transform={`translate(${pos.x} ${pos.y})`}
      data-node={node.id}
      data-kind={node.kind}
      data-column={node.column}
    >
      <title>{detail}</title>
      <rect width={W} height={H} rx={6} />
      <text x={8} y={15} class="node-kind">
        {node.kind}
        {status ? ` · ${status}` : ""}
      </text>
      <text x={8} y={32} class="node-name">
        {short(node.name)}
      </text>
    </g>
  );
  if (!target) return box;
  return (
    <a
      href={target}
      class="node-link"
      tabIndex={0}
      aria-label={`${detail}: open`}
      onKeyDown={(e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          location.hash = target;
        }
      }}
    >
      {box}
    </a>
  );
}
