// The Artifacts tab: a tree of the run's files built from its artifact records (outputs/,
// assets/, events/, the files of logged folders and models) beside a preview of the selected
// one, with a Download link. An asset logged at several steps is one entry of the tree whose
// preview has a step slider; so is a value (curve, text, histogram...) logged at steps. The
// selection is in the URL (`file`, and `step` for an asset), so a view can be shared.
import { useEffect, useMemo, useState } from "preact/hooks";
import { Route, setQuery } from "../route";
import { AssetView, isValueAsset } from "./assets";
import { ArtifactRecord, Asset, filesApi, fmtBytes, runFileUrl } from "./files";
import { FilePreview } from "./preview";

/** A selectable entry: a stored file, or an asset (several steps, or a value). */
export interface Leaf {
  path: string;
  label: string;
  size: number;
  kind?: string;
  asset?: Asset;
}

interface Folder {
  path: string;
  name: string;
  folders: Map<string, Folder>;
  leaves: Leaf[];
}

const LEAVES_SHOWN = 500; // a folder lists this many files until asked for all

const dirOf = (path: string) => path.slice(0, Math.max(0, path.lastIndexOf("/")));
const baseOf = (path: string) => path.slice(path.lastIndexOf("/") + 1);

/** The tree's entries: every asset (file-backed with one step: its file), then each file of
 * the other records with files (outputs, models, folders); a path logged again shows its last. */
export function leavesOf(records: ArtifactRecord[], assets: Asset[]): Leaf[] {
  const leaves = new Map<string, Leaf>();
  const covered = new Set<string>();
  for (const asset of assets) {
    asset.steps.forEach((s) => covered.add(s.path));
    const first = asset.steps[0];
    if (!first) continue;
    if (isValueAsset(asset)) {
      const n = asset.steps.length;
      leaves.set(first.path, { path: first.path, label: n > 1 ? `${asset.name} · ${n} steps` : asset.name, size: 0, kind: asset.kind, asset });
    } else if (asset.steps.length === 1) {
      leaves.set(first.path, { path: first.path, label: baseOf(first.path), size: first.size, kind: asset.kind, asset });
    } else {
      const path = `${dirOf(first.path)}/${asset.name}`;
      leaves.set(path, { path, label: `${asset.name} · ${asset.steps.length} steps`, size: 0, kind: asset.kind, asset });
    }
  }
  for (const r of records) {
    if (!r.path || r.mode === "version" || r.mode === "event" || r.files.length === 0) continue;
    for (const f of r.files) {
      const path = r.is_dir ? `${r.path}/${f.path}` : r.path;
      if (!covered.has(path)) leaves.set(path, { path, label: baseOf(path), size: f.size, kind: r.kind });
    }
  }
  return [...leaves.values()];
}

function treeOf(leaves: Leaf[]): Folder {
  const root: Folder = { path: "", name: "", folders: new Map(), leaves: [] };
  for (const leaf of leaves) {
    let at = root;
    const dir = dirOf(leaf.path);
    for (const part of dir ? dir.split("/") : []) {
      let next = at.folders.get(part);
      if (!next) {
        next = { path: at.path ? `${at.path}/${part}` : part, name: part, folders: new Map(), leaves: [] };
        at.folders.set(part, next);
      }
      at = next;
    }
    at.leaves.push(leaf);
  }
  return root;
}

/** The leaf a URL names: a leaf's path, or the file of one step of an asset (then its index). */
export function find(leaves: Leaf[], path: string, step: string | null): { leaf: Leaf; index: number } | null {
  const last = (leaf: Leaf) => (leaf.asset ? leaf.asset.steps.length - 1 : 0);
  const direct = leaves.find((l) => l.path === path);
  if (direct) {
    const steps = direct.asset?.steps ?? [];
    const at = step === null ? -1 : steps.findIndex((s) => String(s.step) === step);
    return { leaf: direct, index: at >= 0 ? at : last(direct) };
  }
  for (const leaf of leaves) {
    const at = leaf.asset && !isValueAsset(leaf.asset) ? leaf.asset.steps.findIndex((s) => s.path === path) : -1;
    if (at >= 0) return { leaf, index: at };
  }
  return null;
}

export function Artifacts({ id, route, tick }: { id: string; route: Route; tick: number }) {
  const [records, setRecords] = useState<ArtifactRecord[] | null>(null);
  const [assets, setAssets] = useState<Asset[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    Promise.all([filesApi.records(id), filesApi.assets(id)]).then(
      ([r, a]) => {
        if (!live) return;
        setRecords(r.artifacts);
        setAssets(a.assets);
      },
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [id, tick]);
  const leaves = useMemo(() => leavesOf(records ?? [], assets), [records, assets]);
  const tree = useMemo(() => treeOf(leaves), [leaves]);
  const wanted = route.query.get("file");
  const found = wanted ? find(leaves, wanted, route.query.get("step")) : null;
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [closed, setClosed] = useState<Set<string>>(new Set());
  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!records) return <p class="muted">Loading…</p>;
  if (leaves.length === 0) return <p class="muted">No artifacts logged.</p>;
  const selected = found?.leaf.path ?? null;
  // folders start open on the first two levels and along the selection; a click toggles
  const isOpen = (f: Folder) =>
    !closed.has(f.path) && (open.has(f.path) || f.path.split("/").length <= 2 || (selected ?? "").startsWith(f.path + "/"));
  const toggle = (f: Folder) => {
    const now = isOpen(f);
    setOpen((s) => withOut(s, f.path, !now));
    setClosed((s) => withOut(s, f.path, now));
  };
  const pick = (leaf: Leaf, index?: number) => {
    const step = leaf.asset && index !== undefined ? leaf.asset.steps[index]?.step : null;
    setQuery(route, { file: leaf.path, step: step == null ? "" : String(step) });
  };
  return (
    <div class="artifacts-tab">
      <nav class="file-tree" aria-label="run files">
        <FolderView folder={tree} isOpen={isOpen} toggle={toggle} selected={selected} pick={pick} />
      </nav>
      <section class="file-view" aria-live="polite">
        {found ? (
          <Selected runId={id} leaf={found.leaf} index={found.index} onIndex={(i) => pick(found.leaf, i)} />
        ) : (
          <p class="muted">{wanted ? `No file ${wanted} in this run.` : "Select a file to preview it."}</p>
        )}
      </section>
    </div>
  );
}

function withOut(set: Set<string>, key: string, add: boolean): Set<string> {
  const next = new Set(set);
  if (add) next.add(key);
  else next.delete(key);
  return next;
}

interface FolderProps {
  folder: Folder;
  isOpen: (f: Folder) => boolean;
  toggle: (f: Folder) => void;
  selected: string | null;
  pick: (leaf: Leaf) => void;
}

function FolderView({ folder, isOpen, toggle, selected, pick }: FolderProps) {
  const folders = [...folder.folders.values()].sort((a, b) => a.name.localeCompare(b.name));
  const leaves = [...folder.leaves].sort((a, b) => a.label.localeCompare(b.label, undefined, { numeric: true }));
  const [all, setAll] = useState(false);
  const shown = all ? leaves : leaves.slice(0, LEAVES_SHOWN);
  return (
    <ul class="tree files">
      {folders.map((f) => {
        const expanded = isOpen(f);
        return (
          <li key={f.path}>
            <button type="button" class="folder" data-folder={f.path} aria-expanded={expanded} onClick={() => toggle(f)}>
              {expanded ? "▾" : "▸"} {f.name}/
            </button>
            {expanded && <FolderView folder={f} isOpen={isOpen} toggle={toggle} selected={selected} pick={pick} />}
          </li>
        );
      })}
      {shown.map((l) => (
        <li key={l.path}>
          <button
            type="button"
            class="leaf"
            data-path={l.path}
            aria-current={l.path === selected ? "true" : undefined}
            onClick={() => pick(l)}
            title={l.path}
          >
            {l.label}
            {l.size > 0 && <span class="muted small"> {fmtBytes(l.size)}</span>}
          </button>
        </li>
      ))}
      {shown.length < leaves.length && (
        <li>
          <button type="button" class="more" onClick={() => setAll(true)}>
            show all {leaves.length} files
          </button>
        </li>
      )}
    </ul>
  );
}

function Selected({ runId, leaf, index, onIndex }: { runId: string; leaf: Leaf; index: number; onIndex: (i: number) => void }) {
  if (leaf.asset && (leaf.asset.steps.length > 1 || isValueAsset(leaf.asset)))
    return <AssetView runId={runId} asset={leaf.asset} index={index} onIndex={onIndex} />;
  return (
    <div class="file" data-path={leaf.path}>
      <div class="asset-head">
        <h4 class="mono">{leaf.path}</h4>
        <span class="muted small">{fmtBytes(leaf.size)}</span>
        <a class="download" href={runFileUrl(runId, leaf.path, true)} download>
          Download
        </a>
      </div>
      <FilePreview url={runFileUrl(runId, leaf.path)} path={leaf.path} kind={leaf.kind} size={leaf.size} />
    </div>
  );
}
