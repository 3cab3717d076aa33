// The run's overview: status with its history, editable description and tags (saved through
// PATCH /runs/{id} and POST /runs/{id}/tags), details, git ref, run environment, metadata.
import { useEffect, useState } from "preact/hooks";
import { duration, fmtDuration, fmtTime, fmtValue } from "../format";
import { RunDetail, runApi } from "./api";

interface Props {
  run: RunDetail;
  onChange: (run: RunDetail) => void;
}

type Docs = Record<string, { value: Record<string, unknown>; updatedAt: number }>;

export function Overview({ run, onChange }: Props) {
  const [docs, setDocs] = useState<Docs | null>(null);
  useEffect(() => {
    runApi.metadata(run.id).then(
      (m) => setDocs(m.metadata),
      () => setDocs({}),
    );
  }, [run.id]);
  const git = run.extra?.git as Record<string, unknown> | undefined;
  const env = docs?.env?.value;
  const others = Object.entries(docs ?? {}).filter(([k]) => k !== "env");
  return (
    <div class="overview-tab">
      <Description run={run} onChange={onChange} />
      <Tags run={run} onChange={onChange} />
      <h3>Status</h3>
      <ol class="history">
        {run.statusHistory.map((h, i) => (
          <li key={i}>
            {fmtTime(h.at)} <span class={"status " + h.status}>{h.status}</span> {h.message ?? ""}
          </li>
        ))}
        {run.statusHistory.length === 0 && (
          <li>
            <span class={"status " + run.status}>{run.status}</span>
          </li>
        )}
      </ol>
      <h3>Details</h3>
      <KeyValues
        cls="details"
        rows={[
          ["id", run.id],
          ["project", `${run.owner}/${run.project}`],
          ["folder", run.folder],
          ["group", run.group],
          ["created", fmtTime(run.createdAt)],
          ["updated", fmtTime(run.updatedAt)],
          ["duration", fmtDuration(duration(run))],
          ["heartbeat", fmtTime(run.heartbeatAt)],
          ["framework", run.framework],
          ["backend", run.backend],
          ["external id", run.externalId],
          ["path", run.path],
        ]}
      />
      <h3>Git</h3>
      {git ? (
        <KeyValues
          cls="git"
          rows={[
            ["commit", git.commit],
            ["branch", git.branch],
            ["remote", git.remote_url],
            ["dirty", git.is_dirty == null ? null : git.is_dirty ? "yes (diff saved)" : "no"],
          ]}
        />
      ) : (
        <p class="muted">No git ref captured.</p>
      )}
      <h3>Environment</h3>
      {env ? (
        <>
          <KeyValues cls="env" rows={Object.entries(env).filter(([k]) => k !== "packages")} />
          {env.packages != null && typeof env.packages === "object" && (
            <details>
              <summary>{Object.keys(env.packages).length} packages</summary>
              <KeyValues cls="packages" rows={Object.entries(env.packages)} />
            </details>
          )}
        </>
      ) : (
        <p class="muted">{docs ? "No environment captured." : "Loading…"}</p>
      )}
      <h3>Metadata</h3>
      {others.length === 0 && <p class="muted">{docs ? "No metadata documents." : "Loading…"}</p>}
      {others.map(([key, doc]) => (
        <details class="metadata" key={key} data-key={key} open={others.length <= 3}>
          <summary>
            {key} <span class="muted small">updated {fmtTime(doc.updatedAt)}</span>
          </summary>
          <pre>{JSON.stringify(doc.value, null, 2)}</pre>
        </details>
      ))}
    </div>
  );
}

function KeyValues({ rows, cls }: { rows: [string, unknown][]; cls: string }) {
  const shown = rows.filter(([, v]) => v != null && v !== "");
  return (
    <table class={"kv " + cls}>
      <tbody>
        {shown.map(([k, v]) => (
          <tr key={k}>
            <th>{k}</th>
            <td>{Array.isArray(v) ? v.map(fmtValue).join(", ") : fmtValue(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Description({ run, onChange }: Props) {
  const [draft, setDraft] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const save = () => {
    if (draft == null) return;
    runApi.setDescription(run.id, draft).then(
      (r) => {
        onChange(r);
        setDraft(null);
        setError(null);
      },
      (e: Error) => setError(e.message),
    );
  };
  return (
    <section class="description">
      <h3>Description</h3>
      {draft == null ? (
        <p>
          <span class={run.description ? "" : "muted"} data-description>
            {run.description || "No description."}
          </span>{" "}
          <button type="button" class="edit-description" onClick={() => setDraft(run.description ?? "")}>
            edit
          </button>
        </p>
      ) : (
        <div class="editor">
          <textarea
            aria-label="description"
            rows={3}
            value={draft}
            ref={(el) => el?.focus()}
            onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)}
            onKeyDown={(e) => {
              if (e.key === "Escape") setDraft(null);
              if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) save();
            }}
          />
          <button type="button" class="save-description" onClick={save}>
            save
          </button>
          <button type="button" onClick={() => setDraft(null)}>
            cancel
          </button>
        </div>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function Tags({ run, onChange }: Props) {
  const [draft, setDraft] = useState("");
  const [error, setError] = useState<string | null>(null);
  const apply = (tags: string[], reset: boolean) =>
    runApi.setTags(run.id, tags, reset).then(
      (r) => {
        onChange(r);
        setError(null);
        setDraft("");
      },
      (e: Error) => setError(e.message),
    );
  return (
    <section class="tags-editor">
      <h3>Tags</h3>
      <p class="tags">
        {run.tags.map((t) => (
          <span class="tag" key={t} data-tag={t}>
            {t}
            <button
              type="button"
              class="remove-tag"
              aria-label={`remove tag ${t}`}
              onClick={() =>
                apply(
                  run.tags.filter((x) => x !== t),
                  true,
                )
              }
            >
              ×
            </button>
          </span>
        ))}
        <input
          name="tag"
          aria-label="add tag"
          placeholder="add tag…"
          value={draft}
          onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && draft.trim()) apply([draft.trim()], false);
            if (e.key === "Escape") setDraft("");
          }}
        />
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
