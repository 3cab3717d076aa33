"""ModelBox's value types, as its Python SDK 0.0.5 spells them (``modelbox.modelbox``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class MLFramework(Enum):
    UNKNOWN = 1
    PYTORCH = 2
    TENSORFLOW = 3

    @property
    def label(self) -> str:
        """The run's ``framework`` string in runlane: ``pytorch``, ``tensorflow``, ``unknown``."""
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str | None) -> MLFramework:
        """The member for a runlane framework string; anything else is UNKNOWN."""
        text = (label or "").strip().upper()
        if text in ("KERAS", "TF"):
            text = "TENSORFLOW"
        return cls.__members__.get(text, cls.UNKNOWN)


@dataclass
class EventSource:
    name: str


@dataclass
class Event:
    """A discrete event; ``wallclock_time`` (epoch seconds) is kept as given."""

    name: str
    source: EventSource
    wallclock_time: int | float
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class MetricValue:
    step: int
    wallclock_time: int | float
    value: float | str | bytes


@dataclass
class LogEventResponse:
    created_at: int


@dataclass
class UpdateMetadataResponse:
    """``updated_at`` is epoch seconds (ModelBox's gRPC answer carries a Timestamp)."""

    updated_at: float
    num_keys_written: int = 1


@dataclass
class LogMetricsResponse:
    updated_at: int


@dataclass
class ListMetadataResponse:
    metadata: dict[str, Any]
