// Versioned assets: each asset (kind + name: an image logged every epoch, a curve per
// evaluation...) with a step slider that swaps the preview to that step's file or value. The
// slider is a range input: arrow keys, Home and End move it. The Assets tab shows every asset
// as a card, filtered by kind; the Artifacts tab reuses AssetView for a selected asset.
import { useEffect, useState } from "preact/hooks";
import { fmtTime } from "../format";
import { Route, setQuery } from "../route";
import { Asset, filesApi, fmtBytes, runFileUrl } from "./files";
import { FilePreview, ValuePreview } from "./preview";

const CARDS = 60; // cards drawn until asked for more (each may load an image or a chart)

interface ViewProps {
  runId: string;
  asset: Asset;
  /** the shown step's index in asset.steps */
  index: number;
  onIndex: (index: number) => void;
}

/** Whether an asset's steps are values kept inline (curves, text...) rather than files. */
export const isValueAsset = (asset: Asset) => asset.steps.some((s) => "value" in s);

export function AssetView({ runId, asset, index, onIndex }: ViewProps) {
  const steps = asset.steps;
  const i = Math.max(0, Math.min(steps.length - 1, index));
  const step = steps[i];
  const values = isValueAsset(asset);
  const label = step.step == null ? "no step" : `step ${step.step}`;
  return (
    <div class="asset" data-kind={asset.kind} data-name={asset.name} data-step={step.step ?? ""} data-steps={steps.length}>
      <div class="asset-head">
        <h4>
          {asset.name} <span class="muted small">{asset.kind}</span>
        </h4>
        <a class="download" href={runFileUrl(runId, step.path, true)} download>
          {values ? "Download (all steps)" : "Download"}
        </a>
      </div>
      {steps.length > 1 && (
        <div class="step-slider">
          <input
            type="range"
            min={0}
            max={steps.length - 1}
            step={1}
            value={i}
            aria-label={`${asset.name}: step`}
            aria-valuetext={label}
            onInput={(e) => onIndex(Number((e.currentTarget as HTMLInputElement).value))}
          />
          <output class="step-label">{label}</output>
          <span class="muted small">
            {i + 1} of {steps.length}
          </span>
        </div>
      )}
      {values ? (
        <ValuePreview kind={asset.kind} name={asset.name} value={step.value} />
      ) : (
        <FilePreview url={runFileUrl(runId, step.path)} path={step.path} kind={asset.kind} size={step.size} />
      )}
      <p class="muted small">
        {steps.length === 1 ? `${label} · ` : ""}logged {fmtTime(step.timestamp)}
        {values ? "" : ` · ${fmtBytes(step.size)}`}
      </p>
    </div>
  );
}

/** The Assets tab: a card per asset, newest step first shown; `kind` in the URL filters. */
export function Assets({ id, route, tick }: { id: string; route: Route; tick: number }) {
  const [assets, setAssets] = useState<Asset[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<Record<string, number>>({});
  const [cards, setCards] = useState(CARDS);
  useEffect(() => {
    let live = true;
    filesApi.assets(id).then(
      (a) => live && setAssets(a.assets),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [id, tick]);
  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!assets) return <p class="muted">Loading…</p>;
  if (assets.length === 0) return <p class="muted">No versioned assets (log_image, log_curve, log_artifact(step=...) …).</p>;
  const kinds = [...new Set(assets.map((a) => a.kind))];
  const kind = route.query.get("kind") ?? "";
  const shown = assets.filter((a) => !kind || a.kind === kind);
  return (
    <div class="assets-tab">
      <div class="toolbar" role="group" aria-label="asset kinds">
        {["", ...kinds].map((k) => (
          <button type="button" key={k} data-kind={k} aria-pressed={k === kind} onClick={() => setQuery(route, { kind: k })}>
            {k || "all"}
          </button>
        ))}
      </div>
      <div class="asset-grid">
        {shown.slice(0, cards).map((a) => {
          const key = `${a.kind}/${a.name}`;
          return (
            <AssetView
              key={key}
              runId={id}
              asset={a}
              index={picked[key] ?? a.steps.length - 1}
              onIndex={(i) => setPicked((p) => ({ ...p, [key]: i }))}
            />
          );
        })}
      </div>
      {shown.length > cards && (
        <button type="button" class="more" onClick={() => setCards((n) => n + CARDS)}>
          show more ({shown.length - cards} not shown)
        </button>
      )}
    </div>
  );
}
