"""Artifacts, versioned assets, models and lineage (see issue "Artifacts...")."""
