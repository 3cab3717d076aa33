// The Models tab: the registry models whose versions this run logged or used, the project's
// versioned artifacts it produced or used (each version with its aliases, files and download
// links), and the run's checkpoints. Which versions: the run's artifact records (models and
// versions it logged) and its lineage (model:<name>:<v> and artifact:<name>:<v> nodes, inputs
// and outputs); their details come from the project's registry endpoints.
import { useEffect, useState } from "preact/hooks";
import { fmtTime, fmtValue } from "../format";
import {
  ArtifactRecord,
  ArtifactVersion,
  Checkpoint,
  FileEntry,
  filesApi,
  fmtBytes,
  LineageRecord,
  ModelDetail,
  modelFileUrl,
  runFileUrl,
  versionFileUrl,
} from "./files";

interface Props {
  id: string;
  owner: string;
  project: string;
}

/** name → version → how the run touched it ("logged", "used" or both). */
type Touched = Map<string, Map<string, Set<string>>>;

function touch(into: Touched, name: string, version: string, how: string) {
  if (!into.has(name)) into.set(name, new Map());
  const versions = into.get(name)!;
  if (!versions.has(version)) versions.set(version, new Set());
  versions.get(version)!.add(how);
}

/** The model and artifact versions a run logged or used, from its records and lineage. */
export function touched(records: ArtifactRecord[], lineage: LineageRecord[]): { models: Touched; artifacts: Touched } {
  const models: Touched = new Map();
  const artifacts: Touched = new Map();
  for (const r of records) {
    if (r.mode === "model" && r.version) touch(models, r.name, r.version, "logged");
    if (r.mode === "version" && r.version) touch(artifacts, r.name, r.version, "logged");
  }
  for (const l of lineage) {
    const node = l.summary?.node;
    if (typeof node !== "string") continue;
    const how = l.is_input ? "used" : "logged";
    const [kind, rest] = [node.slice(0, node.indexOf(":")), node.slice(node.indexOf(":") + 1)];
    const cut = rest.lastIndexOf(":");
    if (cut <= 0) continue;
    if (kind === "model") touch(models, rest.slice(0, cut), rest.slice(cut + 1), how);
    if (kind === "artifact") touch(artifacts, rest.slice(0, cut), rest.slice(cut + 1), how);
  }
  return { models, artifacts };
}

interface Loaded {
  models: { name: string; detail: ModelDetail | null; error?: string; touched: Map<string, Set<string>> }[];
  artifacts: { name: string; versions: ArtifactVersion[]; error?: string; touched: Map<string, Set<string>> }[];
  checkpoints: Checkpoint[];
}

async function load(id: string, owner: string, project: string): Promise<Loaded> {
  const [records, lineage, checkpoints] = await Promise.all([filesApi.records(id), filesApi.lineage(id), filesApi.checkpoints(id)]);
  const { models, artifacts } = touched(records.artifacts, lineage.lineage);
  const modelRows = await Promise.all(
    [...models].map(([name, t]) =>
      filesApi.model(owner, project, name).then(
        (detail) => ({ name, detail, touched: t }),
        (e: Error) => ({ name, detail: null, error: e.message, touched: t }),
      ),
    ),
  );
  const artifactRows = await Promise.all(
    [...artifacts].map(([name, t]) =>
      filesApi.artifactVersions(owner, project, name).then(
        (v) => ({ name, versions: v.versions, touched: t }),
        (e: Error) => ({ name, versions: [], error: e.message, touched: t }),
      ),
    ),
  );
  return { models: modelRows, artifacts: artifactRows, checkpoints: checkpoints.checkpoints };
}

export function Models({ id, owner, project }: Props) {
  const [data, setData] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    load(id, owner, project).then(
      (d) => live && setData(d),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [id, owner, project]);
  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!data) return <p class="muted">Loading…</p>;
  return (
    <div class="models-tab">
      <h3>Models</h3>
      {data.models.length === 0 && <p class="muted">This run logged and used no registered model.</p>}
      {data.models.map((m) => (
        <section class="model" key={m.name} data-model={m.name}>
          <h4>
            {m.name} <Aliases aliases={m.detail?.aliases ?? {}} />
          </h4>
          {m.error && <p class="error">{m.error}</p>}
          {m.detail && (
            <VersionTable
              rows={m.detail.versions.filter((v) => m.touched.has(v.version) || v.run_id === id)}
              how={(v) => howOf(m.touched, v.version, v.run_id === id)}
              extra={(v) => [v.framework ?? "", v.step == null ? "" : String(v.step)]}
              extraHeads={["framework", "step"]}
              fileUrl={(v, f) => modelFileUrl(owner, project, m.name, v.version, f.path)}
            />
          )}
        </section>
      ))}
      <h3>Versioned artifacts</h3>
      {data.artifacts.length === 0 && <p class="muted">This run logged and used no versioned artifact.</p>}
      {data.artifacts.map((a) => (
        <section class="versioned" key={a.name} data-artifact={a.name}>
          <h4>
            {a.name} <span class="muted small">{a.versions[0]?.type ?? ""}</span>
          </h4>
          {a.error && <p class="error">{a.error}</p>}
          <VersionTable
            rows={a.versions.filter((v) => a.touched.has(v.version) || v.run_id === id)}
            how={(v) => howOf(a.touched, v.version, v.run_id === id)}
            extra={() => []}
            extraHeads={[]}
            fileUrl={(v, f) => versionFileUrl(owner, project, a.name, v.version, f.path)}
          />
        </section>
      ))}
      <h3>Checkpoints</h3>
      <Checkpoints id={id} checkpoints={data.checkpoints} />
    </div>
  );
}

function howOf(touched: Map<string, Set<string>>, version: string, mine: boolean): string {
  const how = new Set(touched.get(version) ?? []);
  if (mine) how.add("logged");
  return [...how].sort().join(", ");
}

function Aliases({ aliases }: { aliases: Record<string, string> }) {
  const entries = Object.entries(aliases);
  if (entries.length === 0) return null;
  return (
    <span class="aliases">
      {entries.map(([alias, version]) => (
        <span class="tag alias" key={alias} data-alias={alias}>
          {alias} → {version}
        </span>
      ))}
    </span>
  );
}

interface TableProps<V> {
  rows: V[];
  how: (v: V) => string;
  extra: (v: V) => string[];
  extraHeads: string[];
  fileUrl: (v: V, f: FileEntry) => string;
}

function VersionTable<V extends { version: string; aliases: string[]; size: number; created_at: number; files: FileEntry[] }>({
  rows,
  how,
  extra,
  extraHeads,
  fileUrl,
}: TableProps<V>) {
  return (
    <table class="versions">
      <thead>
        <tr>
          <th>version</th>
          <th>aliases</th>
          <th>this run</th>
          {extraHeads.map((h) => (
            <th key={h}>{h}</th>
          ))}
          <th>size</th>
          <th>created</th>
          <th>files</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((v) => (
          <tr key={v.version} data-version={v.version}>
            <td class="mono">{v.version}</td>
            <td>
              {v.aliases.map((a) => (
                <span class="tag alias" key={a}>
                  {a}
                </span>
              ))}
            </td>
            <td>{how(v)}</td>
            {extra(v).map((x, i) => (
              <td key={i}>{x}</td>
            ))}
            <td class="num">{fmtBytes(v.size)}</td>
            <td>{fmtTime(v.created_at)}</td>
            <td>
              <ul class="file-links">
                {v.files.map((f) => (
                  <li key={f.path}>
                    <a href={fileUrl(v, f)} download data-file={f.path}>
                      {f.path}
                    </a>{" "}
                    <span class="muted small">{fmtBytes(f.size)}</span>
                  </li>
                ))}
              </ul>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Checkpoints({ id, checkpoints }: { id: string; checkpoints: Checkpoint[] }) {
  if (checkpoints.length === 0) return <p class="muted">No checkpoints.</p>;
  const names = [...new Set(checkpoints.flatMap((c) => Object.keys(c.metrics)))];
  return (
    <table class="checkpoints">
      <thead>
        <tr>
          <th>epoch</th>
          {names.map((n) => (
            <th key={n}>{n}</th>
          ))}
          <th>created</th>
          <th>file</th>
        </tr>
      </thead>
      <tbody>
        {checkpoints.map((c) => (
          <tr key={c.id} data-epoch={c.epoch}>
            <td class="num">{c.epoch}</td>
            {names.map((n) => (
              <td key={n} class="num">
                {fmtValue(c.metrics[n])}
              </td>
            ))}
            <td>{fmtTime(c.created_at)}</td>
            <td>
              {c.artifact && (
                <a href={runFileUrl(id, c.artifact, true)} download>
                  {c.artifact}
                </a>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
