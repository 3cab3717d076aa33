"""ModelBox's Python SDK on runlane (see :mod:`runlane.compat.modelbox.modelbox`).

``from runlane.compat.modelbox import ModelBox, MLFramework, Event, EventSource, MetricValue``
replaces ``from modelbox.modelbox import ...``; the longer path
``runlane.compat.modelbox.modelbox`` works too.
"""

from __future__ import annotations

from runlane.compat.modelbox.modelbox import (
    Checkpoint,
    Experiment,
    ListCheckpointsResponse,
    ListExperimentsResponse,
    ListModelsResult,
    Model,
    ModelBox,
    ModelVersion,
)
from runlane.compat.modelbox.types import (
    Event,
    EventSource,
    ListMetadataResponse,
    LogEventResponse,
    LogMetricsResponse,
    MetricValue,
    MLFramework,
    UpdateMetadataResponse,
)

__all__ = [
    "Checkpoint",
    "Event",
    "EventSource",
    "Experiment",
    "ListCheckpointsResponse",
    "ListExperimentsResponse",
    "ListMetadataResponse",
    "ListModelsResult",
    "LogEventResponse",
    "LogMetricsResponse",
    "MLFramework",
    "MetricValue",
    "Model",
    "ModelBox",
    "ModelVersion",
    "UpdateMetadataResponse",
]
