def test_v1_artifact_kind_is_exactly_the_core_polyaxon_kinds() -> None:
    from runlane.artifacts.kinds import POLYAXON_KINDS
    from runlane.compat.polyaxon import V1ArtifactKind

    assert tuple(k.value for k in V1ArtifactKind) == POLYAXON_KINDS
