"""gRPC: ModelBox's ``modelbox.ModelStore`` (wire-compatible with the ``modelbox`` 0.0.5
client) and runlane's streaming ``runlane.v1.Ingest``; see :mod:`.server`."""
