"""Compatibility facades: other trackers' APIs on runlane, so moving means changing one import.

==============================================  ============================================
import this                                     instead of
==============================================  ============================================
``from runlane.compat import fedml``            ``import fedml``
``from runlane.compat.polyaxon_client.tracking   ``from polyaxon_client.tracking import
import Experiment``                             Experiment`` (Polyaxon v0)
``from runlane.compat.polyaxon import tracking``  ``from polyaxon import tracking`` (Polyaxon v1)
``from runlane.compat.modelbox import ModelBox``  ``from modelbox.modelbox import ModelBox``
``from runlane.compat.mldash import Experiment``  ``from ml_dash import Experiment``
==============================================  ============================================

Each facade only translates names and arguments into the core SDK (:mod:`runlane.sdk`); the
data lands in ordinary runlane runs, readable with :func:`runlane.open`. Where the seed
documents and the real systems differ, the facades follow the documents and accept both
spellings. Importing this package imports no facade.
"""

from __future__ import annotations

__all__: list[str] = []
