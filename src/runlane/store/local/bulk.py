"""Many runs' params, stream lists and field aggregates at once, for :class:`LocalStore`
(:meth:`~runlane.store.base.Store.read_params_many`,
:meth:`~runlane.store.base.Store.list_streams_many`,
:meth:`~runlane.store.base.Store.field_aggregates_many`).

Params and stream descriptions live in each run's files (``parameters.json``,
``metrics/<stream>/metadata.json`` and the column cache's ``columns.json``), which are the
truth. The catalog holds a copy of the params' data but not their version or update time, and
no stream list, so a bulk read is one catalog query for the folders of all the runs (unknown
ids fall out there; folders this store found before are not asked again) and then each
run's own files, read as :meth:`LocalStore.read_params` and :meth:`LocalStore.list_streams`
read them: a loop over local files (tens of microseconds per run), no per-run catalog query.
Field aggregates read each asked stream's whole columns from its column cache (a loop too:
``np.fromfile`` of one file per field, fast enough for a page of runs).
A run whose catalog row outlived its folder (deleted by another process) is left out, as an
unknown id is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from runlane.entities import FieldAggregate, ParamsDoc, StreamInfo
from runlane.errors import InvalidNameError
from runlane.names import check_name
from runlane.store.columns import FieldPair, aggregates_from_columns
from runlane.store.local import metrics as streams
from runlane.store.local.catalog import Catalog
from runlane.store.local.files import read_json
from runlane.timeutil import parse_iso

_EMPTY = np.zeros(0, dtype=np.float64)


def folders(
    catalog: Catalog, root: Path, run_ids: Sequence[str], known: dict[str, Path]
) -> dict[str, Path]:
    """``{run id: run folder}`` of the runs of ``run_ids`` that exist, in the order of
    ``run_ids`` (each once). ``known`` is the store's cache of folders found before (as
    ``LocalStore._dir`` keeps it): the others come from one catalog query, are kept when
    their folder holds ``experiment.json``, and are added to ``known``."""
    missing = [run_id for run_id in run_ids if run_id not in known]
    if missing:
        rows = catalog.execute(
            "SELECT id, path FROM runs WHERE id IN (SELECT value FROM json_each(?))",
            (_json_ids(missing),),
        )
        for run_id, rel in rows:
            run_dir = Path(os.path.join(root, str(rel)))
            if os.path.exists(os.path.join(run_dir, "experiment.json")):
                known[str(run_id)] = run_dir
    out: dict[str, Path] = {}
    for run_id in run_ids:
        found = known.get(run_id)  # one lookup: another thread may forget a deleted run
        if found is not None:
            out[run_id] = found
    return out


def params_of(run_dir: Path) -> ParamsDoc:
    """The run's ``parameters.json`` (version 0 and no data when it has none)."""
    doc = read_json(run_dir / "parameters.json", None)
    if not isinstance(doc, dict):
        return ParamsDoc(version=0, data={}, updated_at=None)
    updated = doc.get("updatedAt")
    return ParamsDoc(
        version=int(doc.get("version", 0)),
        data=dict(doc.get("data", {})),
        updated_at=parse_iso(updated) if isinstance(updated, str) else None,
    )


def streams_of(run_dir: Path) -> list[StreamInfo]:
    """The run's metric streams, by name."""
    return [streams.stream_info(d) for d in streams.list_stream_dirs(run_dir / "metrics")]


def aggregates_of(run_dir: Path, pairs: list[FieldPair]) -> dict[FieldPair, FieldAggregate]:
    """``{(stream, field): aggregate}`` of the run, one column read per stream; a stream
    name that is no valid name (no stream folder can have it) reads as empty."""

    def read(stream: str, fields: list[str]) -> dict[str, Any]:
        try:
            check_name(stream, "stream name")
        except InvalidNameError:
            return {name: _EMPTY for name in fields}
        return streams.read_columns(run_dir / "metrics" / stream, fields)

    return aggregates_from_columns(read, pairs)


def _json_ids(run_ids: Sequence[str]) -> str:
    """``run_ids`` as a JSON array for ``json_each``; an id that is no valid text (a lone
    surrogate) names no run and is dropped."""
    valid = []
    for run_id in run_ids:
        try:
            run_id.encode()
        except (UnicodeEncodeError, AttributeError):
            continue
        valid.append(run_id)
    return orjson.dumps(valid).decode()
