"""Polyaxon v0's client (``polyaxon_client``) on runlane; the tracking API is in
:mod:`runlane.compat.polyaxon_client.tracking`."""

from __future__ import annotations

__all__: list[str] = []
