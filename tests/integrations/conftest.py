"""Framework integration tests: Keras runs on the torch backend (no TensorFlow needed), and keeps
its config file out of the home folder."""

from __future__ import annotations

import os
import tempfile

os.environ["KERAS_BACKEND"] = "torch"  # read once, when keras is first imported
os.environ.setdefault("KERAS_HOME", tempfile.mkdtemp(prefix="runlane-keras-"))
