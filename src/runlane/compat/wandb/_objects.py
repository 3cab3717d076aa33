"""W&B's data objects for :mod:`runlane.compat.wandb`: ``Image``, ``Table``, ``Artifact``,
``Config`` and ``Summary``. What each becomes in runlane is described in the package doc."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import runlane
from runlane.errors import InvalidArgumentError, InvalidValueError
from runlane.integrations.config import config_to_dict, sanitize
from runlane.sdk.run import Run as _CoreRun

__all__ = ["Artifact", "Config", "Image", "Summary", "Table"]

_SUMMARY_EVERY = 1.0
"""Seconds between writes of the summary document driven by ``log``."""


# --- media --------------------------------------------------------------------------------
class Image:
    """``wandb.Image(data_or_path, caption=None, mode=None)``: stored as PNG when logged."""

    def __init__(
        self, data_or_path: Any, mode: str | None = None, caption: str | None = None, **_: Any
    ) -> None:
        self.data = data_or_path
        self.mode = mode
        self.caption = caption

    def _pixels(self) -> Any:
        import numpy as np

        data = self.data
        if hasattr(data, "detach"):  # a torch tensor
            data = data.detach().cpu().numpy()
        array = np.asarray(data)
        if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
            array = np.transpose(array, (1, 2, 0))  # CHW → HWC
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        if array.dtype.kind == "f":
            array = np.clip(array * 255.0 if float(array.max(initial=0)) <= 1.0 else array, 0, 255)
        return array.astype(np.uint8)

    def loggable(self) -> tuple[Any, str | None]:
        """``(data, dataformats)`` for ``run.log_image``: files and PIL images as they are,
        arrays and tensors as ``uint8`` HW or HWC."""
        data = self.data
        if isinstance(data, str | os.PathLike) or hasattr(data, "save"):
            return data, None
        pixels = self._pixels()
        if pixels.ndim not in (2, 3):
            raise InvalidValueError(f"wandb.Image of shape {pixels.shape}: use HW, HWC or CHW")
        return pixels, "HWC" if pixels.ndim == 3 else None


class Table:
    """``wandb.Table(columns=None, data=None, rows=None, dataframe=None)``; ``add_data(*row)``,
    ``add_column(name, data)``, ``get_dataframe()``."""

    def __init__(
        self,
        columns: Iterable[str] | None = None,
        data: Iterable[Any] | None = None,
        rows: Iterable[Any] | None = None,
        dataframe: Any = None,
        **_: Any,
    ) -> None:
        if dataframe is not None:
            self.columns = [str(c) for c in dataframe.columns]
            self.data: list[list[Any]] = [list(r) for r in dataframe.itertuples(index=False)]
            return
        self.data = [list(r) for r in (data if data is not None else rows or [])]
        width = len(self.data[0]) if self.data else 0
        self.columns = (
            [str(c) for c in columns] if columns is not None else [f"c{i}" for i in range(width)]
        )

    def add_data(self, *row: Any) -> None:
        if len(row) != len(self.columns):
            raise InvalidArgumentError(
                f"add_data got {len(row)} values for {len(self.columns)} columns {self.columns}"
            )
        self.data.append(list(row))

    def add_column(self, name: str, data: Iterable[Any]) -> None:
        values = list(data)
        if self.data and len(values) != len(self.data):
            raise InvalidArgumentError(
                f"column {name!r} has {len(values)} values; the table has {len(self.data)} rows"
            )
        self.columns.append(str(name))
        self.data = [
            [*r, v] for r, v in zip(self.data or [[] for _ in values], values, strict=True)
        ]

    def get_dataframe(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)


class Artifact:
    """``wandb.Artifact(name, type, description=None, metadata=None)`` with ``add_file``,
    ``add_dir`` and ``add_reference``, over :class:`runlane.Artifact`. A W&B type that is not a
    runlane artifact kind is stored as kind ``artifact`` with ``metadata["wandb_type"]``.
    After :meth:`Run.log_artifact`, ``version`` (``v0``...) and ``aliases`` are set and
    ``download(root)`` fetches the files."""

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        **_: Any,
    ) -> None:
        from runlane.artifacts.kinds import normalize_kind
        from runlane.artifacts.versions import Artifact as CoreArtifact

        self.name = str(name)
        self.type = str(type)
        self.description = description
        self.metadata = dict(metadata or {})
        try:
            kind = normalize_kind(self.type)
        except InvalidArgumentError:
            kind = "artifact"
            self.metadata["wandb_type"] = self.type
        self.core = CoreArtifact(
            self.name, kind, description=description, metadata=sanitize(self.metadata)
        )
        self.references: list[tuple[str, str]] = []
        self.logged: Any = None
        self.version: str | None = None
        self.aliases: list[str] = []

    def add_file(
        self, local_path: str | os.PathLike[str], name: str | None = None, **_: Any
    ) -> None:
        self.core.add_file(local_path, name)

    def add_dir(
        self, local_path: str | os.PathLike[str], name: str | None = None, **_: Any
    ) -> None:
        self.core.add_dir(local_path, name)

    def add_reference(self, uri: str, name: str | None = None, **_: Any) -> None:
        """A reference (``s3://...``, a path) recorded as lineage, not copied."""
        self.references.append((str(uri), name or str(uri).rstrip("/").rsplit("/", 1)[-1]))

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Write the logged version's files into ``root`` (default ``./artifacts/<name>``)."""
        if self.logged is None:
            raise runlane.RunStateError(f"artifact {self.name!r} has not been logged yet")
        return str(self.logged.download(root or Path("artifacts") / self.name))


# --- config and summary -------------------------------------------------------------------
class Config:
    """``wandb.config``: attribute and item access; every change lands in the run's params."""

    def __init__(self, run: _CoreRun | None = None) -> None:
        object.__setattr__(self, "_run", run)
        object.__setattr__(self, "_data", {})

    def update(self, d: Any = None, allow_val_change: bool = False, **kw: Any) -> None:
        """Merge ``d`` (a dict, Namespace, dataclass, OmegaConf config...) and ``kw``."""
        if isinstance(d, Config):
            d = d.as_dict()
        values = dict(config_to_dict(d)) if d is not None else {}
        values.update(kw)
        if not values:
            return
        self._data.update(values)
        if self._run is not None:
            self._run.params.set({k: sanitize(v) for k, v in values.items()})

    def setdefaults(self, d: Mapping[str, Any]) -> None:
        self.update({k: v for k, v in d.items() if k not in self._data})

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> Any:
        return self._data.keys()

    def items(self) -> Any:
        return self._data.items()

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Config({self._data!r})"


class Summary(MutableMapping[str, Any]):
    """``wandb.summary``: the last value of each logged field, overridable; persisted as the
    run's ``summary`` metadata document (see :mod:`runlane.compat.wandb` for when)."""

    def __init__(self, run: _CoreRun | None = None) -> None:
        self._run = run
        self._data: dict[str, Any] = {}
        self._dirty = False
        self._saved_at = 0.0

    def _absorb(self, row: Mapping[str, Any]) -> None:  # from log: persisted lazily
        self._data.update(row)
        self._dirty = True
        if time.monotonic() - self._saved_at >= _SUMMARY_EVERY:
            self.persist()

    def persist(self) -> None:
        if self._run is not None and not self._run.finished:
            self._run.update_metadata("summary", sanitize(self._data))
            self._saved_at = time.monotonic()
            self._dirty = False

    def update(self, *args: Any, **kw: Any) -> None:
        self._data.update(*args, **kw)
        self.persist()

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value
        self.persist()

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self.persist()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Summary({self._data!r})"
