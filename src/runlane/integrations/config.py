"""Config capture: turn the config objects training scripts already have into runlane params.

    import argparse, runlane
    from runlane.integrations.config import log_config

    args = argparse.ArgumentParser(...).parse_args()
    run = runlane.init(project="alice/mnist")
    log_config(run, args)                      # argparse Namespace
    log_config(run, cfg, prefix="model")       # dataclass, OmegaConf/Hydra DictConfig, dict ...

Contract
--------
:func:`config_to_dict` accepts a mapping, an ``argparse.Namespace``, a dataclass instance (nested
dataclasses included), an OmegaConf ``DictConfig``/``ListConfig`` (Hydra's config object;
interpolations resolved, ``???`` missing values kept as the string ``"???"``), a pydantic model
(``model_dump()``), or any object with public attributes. OmegaConf and pydantic are never
imported by this module: an object is recognised by its type's module, so nothing is loaded that
the caller has not loaded already.

Values runlane cannot store as params (modules, callables, tensors of rank > 0, custom objects)
are not an error here: :func:`sanitize` replaces them with ``str(value)``, as the framework
loggers of other trackers do, because a training script must not crash over a config entry.
Keys become strings. :func:`log_config` then merges the result into the run's params (nested
mappings flatten to dotted keys, see :meth:`runlane.sdk.run.Params.set`); the params are durable
once the run is flushed or finished, like every other logging call.

:raises runlane.errors.InvalidValueError: from :func:`config_to_dict` when the object is none of
    the above (e.g. an int), naming its type.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import pathlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runlane.errors import InvalidValueError

if TYPE_CHECKING:
    from runlane.sdk.run import Run

__all__ = ["config_to_dict", "log_config", "sanitize", "to_params"]

_SCALARS = (bool, int, float, str)
_MAX_DEPTH = 32


def _is_omegaconf(value: object) -> bool:
    return type(value).__module__.startswith("omegaconf")


def _omegaconf_container(value: object) -> Any:
    from omegaconf import OmegaConf  # only reached for an omegaconf object: it is installed

    return OmegaConf.to_container(value, resolve=True, throw_on_missing=False)


def config_to_dict(config: object) -> dict[str, Any]:
    """Return ``config`` as a plain nested ``dict`` (values untouched except for OmegaConf,
    whose containers become dicts and lists). See the module doc for what is accepted."""
    if _is_omegaconf(config):
        container = _omegaconf_container(config)
        if isinstance(container, dict):
            return {str(k): v for k, v in container.items()}
        return {str(i): v for i, v in enumerate(container)}
    if isinstance(config, Mapping):
        return {str(k): v for k, v in config.items()}
    if isinstance(config, argparse.Namespace):
        return dict(vars(config))
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    dump = getattr(config, "model_dump", None)  # pydantic v2
    if callable(dump) and not isinstance(config, type):
        dumped = dump()
        if isinstance(dumped, dict):
            return {str(k): v for k, v in dumped.items()}
    attrs = getattr(config, "__dict__", None)
    if isinstance(attrs, dict) and not isinstance(config, type):
        return {k: v for k, v in attrs.items() if not str(k).startswith("_")}
    raise InvalidValueError(
        f"config of type {type(config).__name__} is not supported; pass a dict, an argparse "
        "Namespace, a dataclass, an OmegaConf/Hydra DictConfig, a pydantic model or an object "
        "with attributes"
    )


def sanitize(value: object, _depth: int = 0) -> Any:
    """Return ``value`` as something runlane stores as a param: scalars, ``None``, lists and
    string-keyed dicts of those. Anything else becomes ``str(value)``; never raises."""
    if value is None or isinstance(value, _SCALARS):
        if isinstance(value, enum.Enum):
            return sanitize(value.value, _depth + 1)
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        return value if value is None else str(value)
    if _depth >= _MAX_DEPTH:
        return str(value)
    if isinstance(value, enum.Enum):
        return sanitize(value.value, _depth + 1)
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if _is_omegaconf(value):
        try:
            return sanitize(_omegaconf_container(value), _depth + 1)
        except Exception:  # an interpolation that cannot resolve: keep its text
            return str(value)
    if isinstance(value, Mapping):
        return {str(k): sanitize(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [sanitize(v, _depth + 1) for v in items]
    if isinstance(value, argparse.Namespace) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    ):
        return sanitize(config_to_dict(value), _depth + 1)
    item = getattr(value, "item", None)
    shape = getattr(value, "shape", None)
    if callable(item) and (shape is None or tuple(shape) == ()):
        try:
            plain = item()
        except Exception:
            return str(value)
        if isinstance(plain, _SCALARS) or plain is None:
            return sanitize(plain, _depth + 1)
    return str(value)


def to_params(config: object, prefix: str | None = None) -> dict[str, Any]:
    """``config`` as a sanitized nested dict, under ``prefix`` when given."""
    data = {k: sanitize(v) for k, v in config_to_dict(config).items()}
    return {prefix: data} if prefix else data


def log_config(run: Run, config: object, prefix: str | None = None) -> dict[str, Any]:
    """Merge ``config`` into ``run``'s params (under ``prefix.`` when given) and return the
    nested dict that was logged. Raises InvalidValueError for an unsupported config type."""
    params = to_params(config, prefix)
    run.params.set(params)
    return params
