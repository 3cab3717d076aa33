// Selecting runs: a click toggles one run and sets the anchor; a shift-click adds every loaded
// run between the anchor and the clicked row. The selection is a list of run ids (URL order).

export const MAX_COMPARE = 10;
/** history state of the compare view's entry when the table opened it (its back link goes back) */
export const FROM_TABLE = { runlane: "compare-from-table" };

export function toggled(selection: readonly string[], id: string): string[] {
  return selection.includes(id) ? selection.filter((s) => s !== id) : [...selection, id];
}

export function withRange(selection: readonly string[], ids: readonly string[]): string[] {
  const have = new Set(selection);
  return [...selection, ...ids.filter((id) => !have.has(id) && (have.add(id), true))];
}
