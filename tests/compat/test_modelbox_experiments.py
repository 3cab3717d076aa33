"""Seed 002 (ModelBox experiment metadata) on ``runlane.compat.modelbox`` in local mode: the
Python SDK examples, the gRPC examples' semantics (CreateExperiment, UpdateMetadata,
LogMetrics) and ModelBox's documented behaviour (seed-systems.md §3)."""

# ruff: noqa: E501 - the seed's examples are kept as the seed writes them
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import runlane
from runlane.compat.modelbox import Event, EventSource, MetricValue, MLFramework, ModelBox, backend
from runlane.compat.modelbox.local import LocalBackend
from runlane.errors import InvalidArgumentError, NotFoundError


@pytest.fixture
def mbox() -> ModelBox:
    return ModelBox()


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def test_seed_create_an_experiment(mbox: ModelBox) -> None:
    # fmt: off
    experiment = mbox.new_experiment(
                name="yolo-v4", owner="foo@bar.com", namespace="cv", external_id="ext1", framework=MLFramework.PYTORCH
            )
    # fmt: on
    assert experiment.id == sha1("yolo-v4" + "cv")
    assert experiment.exists is False
    assert (experiment.name, experiment.owner, experiment.namespace) == (
        "yolo-v4",
        "foo@bar.com",
        "cv",
    )
    assert (experiment.external_id, experiment.framework) == ("ext1", MLFramework.PYTORCH)
    assert experiment.created_at == pytest.approx(time.time(), abs=60)
    info = runlane.open(experiment.id).info
    assert (info.owner, info.project, info.name, info.framework) == (
        "foo@bar.com",
        "cv",
        "yolo-v4",
        "pytorch",
    )


def test_seed_log_additional_metadata(mbox: ModelBox) -> None:
    experiment = mbox.new_experiment(
        name="yolo-v4",
        owner="foo@bar.com",
        namespace="cv",
        external_id="ext1",
        framework=MLFramework.PYTORCH,
    )
    before = time.time()
    # fmt: off
    result = experiment.update_metadata(key="hyperparams", value={"fc_layers": 3, "lr": 0.0002})
    # fmt: on
    # result has the updated_at timestamp
    assert before <= result.updated_at <= time.time()
    assert result.num_keys_written == 1  # UpdateMetadataResponse.num_keys_written
    assert experiment.metadata().metadata == {"hyperparams": {"fc_layers": 3, "lr": 0.0002}}
    stored = runlane.open(experiment.id).metadata()["hyperparams"]
    assert stored["value"] == {"fc_layers": 3, "lr": 0.0002}
    assert stored["updated_at"] == pytest.approx(result.updated_at)


def test_seed_log_metrics_with_float_string_and_bytes_values(mbox: ModelBox) -> None:
    experiment = mbox.new_experiment(
        name="yolo-v4",
        owner="foo@bar.com",
        namespace="cv",
        external_id="ext1",
        framework=MLFramework.PYTORCH,
    )
    # fmt: off
    experiment.log_metrics(metrics={'loss': 2.4, 'accu': 97.6}, step=10, wallclock=12345)
    # fmt: on
    experiment.log_metrics(
        metrics={"tensor": b"\x00\x01", "label": "cat"}, step=11, wallclock=12346
    )
    assert experiment.all_metrics() == {
        "loss": [MetricValue(10, 12345, 2.4)],
        "accu": [MetricValue(10, 12345, 97.6)],
        "tensor": [MetricValue(11, 12346, b"\x00\x01")],
        "label": [MetricValue(11, 12346, "cat")],
    }
    runlane.current_run().flush()  # type: ignore[union-attr]
    rows = [p["data"] for p in runlane.open(experiment.id).metrics().read()["data"]]
    assert rows == [
        {"loss": 2.4, "accu": 97.6, "_step": 10, "_ts": 12345.0},
        {"tensor": b"\x00\x01", "label": "cat", "_step": 11, "_ts": 12346.0},
    ]


def test_seed_log_events_keeps_their_wallclock(mbox: ModelBox) -> None:
    torch = SimpleNamespace(save=lambda: None)  # stands in for the seed's torch.save()
    experiment = mbox.new_experiment(
        name="yolo-v4",
        owner="foo@bar.com",
        namespace="cv",
        external_id="ext1",
        framework=MLFramework.PYTORCH,
    )
    # fmt: off
    experiment.log_event(Event(name="checkpoint_started", source=EventSource(name="trainer"), wallclock_time = 12000 , metadata={"chk_size": 2345}))
    torch.save()
    experiment.log_event(Event(name="checkpoint_finish", source=EventSource(name="trainer"), wallclock_time = 12500 , metadata={"write_speed": 2000}))
    # fmt: on
    assert experiment.events() == [
        Event("checkpoint_started", EventSource("trainer"), 12000, {"chk_size": 2345}),
        Event("checkpoint_finish", EventSource("trainer"), 12500, {"write_speed": 2000}),
    ]
    runlane.current_run().flush()  # type: ignore[union-attr]
    stored = runlane.open(experiment.id).events()
    assert [(e.name, e.source, e.wallclock, e.metadata) for e in stored] == [
        ("checkpoint_started", "trainer", 12000.0, {"chk_size": 2345}),
        ("checkpoint_finish", "trainer", 12500.0, {"write_speed": 2000}),
    ]


# --- the gRPC examples, local mode ------------------------------------------------------------


def test_create_experiment_is_create_or_get_by_name_and_namespace(mbox: ModelBox) -> None:
    first = mbox.new_experiment("yolo-v4", "foo@bar.com", "cv", "ext1", MLFramework.PYTORCH)
    first.update_metadata("hyperparams", {"lr": 1})
    again = mbox.new_experiment("yolo-v4", "other@bar.com", "cv", "ext2", MLFramework.TENSORFLOW)
    other_ns = mbox.new_experiment("yolo-v4", "foo@bar.com", "nlp", "ext1", MLFramework.PYTORCH)
    assert (again.id, again.exists) == (first.id, True)  # experiment_exists
    assert (again.owner, again.external_id, again.framework) == (
        "foo@bar.com",
        "ext1",
        MLFramework.PYTORCH,  # the existing experiment, untouched
    )
    assert again.created_at == first.created_at
    assert again.updated_at >= again.created_at
    assert again.metadata().metadata == {"hyperparams": {"lr": 1}}
    assert other_ns.id == sha1("yolo-v4nlp") and other_ns.exists is False


def test_update_metadata_upserts_keys_of_any_json_value(mbox: ModelBox) -> None:
    exp = mbox.new_experiment("e", "o", "ns", "", MLFramework.UNKNOWN)
    exp.update_metadata("hyperparams", {"lr": 1})
    exp.update_metadata("hyperparams", {"lr": 2})
    exp.update_metadata("layers", [64, 32])
    exp.update_metadata("note", "baseline")
    exp.update_metadata("seed", 7)
    assert exp.metadata().metadata == {
        "hyperparams": {"lr": 2},
        "layers": [64, 32],
        "note": "baseline",
        "seed": 7,
    }


def test_log_metrics_defaults_step_zero_and_wallclock_now(mbox: ModelBox) -> None:
    exp = mbox.new_experiment("e", "o", "ns", "", MLFramework.UNKNOWN)
    before = time.time()
    response = exp.log_metrics({"loss": 1.0})
    time.sleep(0.01)
    exp.log_metrics({"loss": 0.5})
    (first, second) = exp.all_metrics()["loss"]
    assert first.step == 0 and second.step == 0
    assert before <= first.wallclock_time < second.wallclock_time <= time.time()
    assert response.updated_at == pytest.approx(time.time(), abs=5)


# --- reading experiments back -----------------------------------------------------------------


def test_experiment_by_id_and_experiments_of_a_namespace(mbox: ModelBox) -> None:
    a = mbox.new_experiment("a", "alice", "cv", "x1", MLFramework.PYTORCH)
    b = mbox.new_experiment("b", "bob", "cv", "", MLFramework.TENSORFLOW)
    mbox.new_experiment("c", "alice", "nlp", "", MLFramework.UNKNOWN)
    got = mbox.experiment(a.id)
    assert (got.id, got.name, got.owner, got.namespace, got.external_id, got.framework) == (
        a.id,
        "a",
        "alice",
        "cv",
        "x1",
        MLFramework.PYTORCH,
    )
    listed = mbox.experiments("cv").experiments
    assert sorted((e.name, e.owner, e.framework) for e in listed) == [
        ("a", "alice", MLFramework.PYTORCH),
        ("b", "bob", MLFramework.TENSORFLOW),
    ]
    assert b.id in {e.id for e in listed}
    with pytest.raises(NotFoundError):
        mbox.experiment("0" * 40)


def test_runlane_runs_of_the_namespace_are_modelbox_experiments(mbox: ModelBox) -> None:
    run = runlane.init("alice/cv", name="native", framework="pytorch")
    run.log({"loss": 0.3}, step=5, timestamp=100.0)
    run.log_event("epoch_end", source="trainer", wallclock=101.0)
    run.flush()
    (exp,) = mbox.experiments("cv").experiments
    assert (exp.id, exp.name, exp.framework) == (run.id, "native", MLFramework.PYTORCH)
    assert exp.all_metrics() == {"loss": [MetricValue(5, 100, 0.3)]}
    assert exp.events() == [Event("epoch_end", EventSource("trainer"), 101, {})]


def test_a_second_client_sees_what_the_first_logged(tmp_path: Path) -> None:
    root = tmp_path / "mbox-data"
    writer = ModelBox(dir=root)
    exp = writer.new_experiment("e", "o", "ns", "", MLFramework.PYTORCH)
    exp.log_metrics({"loss": 1.5}, step=1, wallclock=10)
    exp.update_metadata("k", {"v": 1})
    writer.close()
    reader = ModelBox(dir=root)
    again = reader.experiment(exp.id)
    assert again.all_metrics() == {"loss": [MetricValue(1, 10, 1.5)]}
    assert again.metadata().metadata == {"k": {"v": 1}}
    again.log_metrics({"loss": 1.0}, step=2, wallclock=11)  # reopens the ended run
    assert [v.value for v in reader.experiment(exp.id).all_metrics()["loss"]] == [1.5, 1.0]
    reader.close()


def test_an_address_uses_the_remote_backend_seam(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: dict[str, Path] = {}

    def factory(addr: str) -> LocalBackend:  # a real backend standing in for gRPC
        served[addr] = tmp_path / "server"
        return LocalBackend(served[addr])

    monkeypatch.setattr(backend, "REMOTE_BACKEND", factory)
    exp = ModelBox("localhost:8085").new_experiment("e", "o", "ns", "", MLFramework.PYTORCH)
    assert served == {"localhost:8085": tmp_path / "server"}
    assert ModelBox(dir=tmp_path / "server").experiment(exp.id).name == "e"


def test_an_address_without_a_grpc_client_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "REMOTE_BACKEND", None)
    monkeypatch.setattr(backend, "REMOTE_MODULE", "runlane.compat.modelbox._no_such_client")
    with pytest.raises(InvalidArgumentError, match="gRPC"):
        ModelBox("localhost:8085")


def test_framework_labels_round_trip() -> None:
    for member in MLFramework:
        assert MLFramework.from_label(member.label) is member
    assert MLFramework.from_label("keras") is MLFramework.TENSORFLOW
    assert MLFramework.from_label(None) is MLFramework.UNKNOWN
