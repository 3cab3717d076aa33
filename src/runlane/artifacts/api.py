"""Top-level artifact functions: ``runlane.models``, ``runlane.artifact``, ``runlane.lineage``.

Each takes ``project`` (``owner/project`` or ``project``, defaults as for ``runlane.init``)
and the same ``dir=``/``store=`` as ``runlane.open``; with a runlane server's URL they read
(and move aliases) through its REST API.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from runlane import settings
from runlane.artifacts.home import project_dir
from runlane.artifacts.lineage import LineageGraph
from runlane.artifacts.registry import ModelRegistry
from runlane.artifacts.versions import ArtifactVersion, VersionStore, parse_ref
from runlane.names import check_name
from runlane.store.registry import open_store

if TYPE_CHECKING:
    from runlane.store.base import Store


def _store(dir: str | os.PathLike[str] | None, store: str | Store | None) -> Store:
    if store is not None and not isinstance(store, str | os.PathLike):
        return store
    return open_store(store or dir or settings.default_store_uri())


def split_project(project: str | None) -> tuple[str, str]:
    """``owner/project`` → ``(owner, project)``; a bare name gets the default owner."""
    text = project or settings.default_project()
    owner = settings.default_owner()
    if "/" in text:
        owner, text = text.split("/", 1)
    return check_name(owner, "owner"), check_name(text, "project")


def models(
    project: str | None = None,
    *,
    dir: str | os.PathLike[str] | None = None,
    store: str | Store | None = None,
) -> ModelRegistry:
    """The model registry of ``project``: ``.all()``, ``.get(name)``, ``.version(name, ref)``,
    ``.set_alias(name, alias, version)``, ``.create(name, ...)``, ``.update(...)``."""
    from runlane.artifacts.remote import artifact_client

    owner, name = split_project(project)
    target = _store(dir, store)
    client = artifact_client(target)
    if client is not None:
        return client.models(owner, name)
    return ModelRegistry(project_dir(target, owner, name), f"{owner}/{name}")


def artifact_versions(
    project: str | None = None,
    *,
    dir: str | os.PathLike[str] | None = None,
    store: str | Store | None = None,
) -> VersionStore:
    """The versioned artifacts of ``project``: ``.names()``, ``.versions(name)``,
    ``.get(name, ref)``, ``.set_alias(name, alias, version)``."""
    from runlane.artifacts.remote import artifact_client

    owner, name = split_project(project)
    target = _store(dir, store)
    client = artifact_client(target)
    if client is not None:
        return client.versions(owner, name)
    return VersionStore(project_dir(target, owner, name) / ".artifacts")


def artifact(
    ref: str,
    project: str | None = None,
    *,
    dir: str | os.PathLike[str] | None = None,
    store: str | Store | None = None,
) -> ArtifactVersion:
    """A version of a project artifact: ``"name"`` (latest), ``"name:v3"``, ``"name:3"``,
    ``"name@alias"``. ArtifactNotFoundError lists what exists."""
    name, version = parse_ref(ref)
    return artifact_versions(project, dir=dir, store=store).get(name, version)


def lineage(
    project: str | None = None,
    *,
    dir: str | os.PathLike[str] | None = None,
    store: str | Store | None = None,
) -> LineageGraph:
    """The lineage graph of the runs of ``project`` (``owner/project`` or ``project``), or
    of every run in the store when None (lineage crosses projects):
    ``.upstream(node)``, ``.downstream(node)``, ``.tree(node, direction)``."""
    target = _store(dir, store)
    if project is None:
        return LineageGraph.build(target, None)
    owner, name = split_project(project)
    return LineageGraph.build(target, f"{owner}/{name}")
