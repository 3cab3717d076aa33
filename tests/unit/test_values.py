"""Value coercion, params sources and flatten/unflatten (runlane.values)."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import math
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runlane.errors import InvalidNameError, InvalidValueError
from runlane.values import (
    INT_MAX,
    INT_MIN,
    coerce_int,
    coerce_param,
    coerce_scalar,
    decode_value,
    encode_bytes,
    flatten,
    has_nonfinite,
    load_params_file,
    to_mapping,
    unflatten,
)

# --- flatten / unflatten ---------------------------------------------------------------------

segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="."),
    min_size=1,
    max_size=8,
)
stored_ints = st.integers(min_value=INT_MIN, max_value=INT_MAX)  # wider ones become floats
leaf = (
    st.none()
    | st.booleans()
    | stored_ints
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
    | st.lists(stored_ints, max_size=3)
)
nested = st.recursive(
    leaf,
    lambda children: st.dictionaries(segment, children, min_size=1, max_size=4),
    max_leaves=20,
)
nested_dicts = st.dictionaries(segment, nested, max_size=5)


@given(nested_dicts)
def test_unflatten_inverts_flatten_for_keys_without_dots(params: dict[str, Any]) -> None:
    flat = flatten(params)
    assert all(not isinstance(v, dict) for v in flat.values())
    assert unflatten(flat) == params


@given(nested_dicts)
def test_flatten_produces_dotted_paths_to_every_leaf(params: dict[str, Any]) -> None:
    flat = flatten(params)
    for key, value in flat.items():
        node: Any = params
        for part in key.split("."):
            node = node[part]
        assert node == value


dotted_keys = st.lists(segment, min_size=1, max_size=4).map(".".join)


@given(st.dictionaries(dotted_keys, st.integers(), max_size=12))
def test_unflatten_never_raises_and_keeps_every_value(flat: dict[str, int]) -> None:
    tree = unflatten(flat)
    for key, value in flat.items():
        node: Any = tree
        for part in key.split("."):
            node = node[part]
        if isinstance(node, dict):  # a scalar sharing a prefix with nested keys
            node = node[""]
        assert node == value


def test_unflatten_prefix_collision_keeps_scalar_under_empty_key() -> None:
    flat = {"optimizer": "adam", "optimizer.type": "sgd", "optimizer.lr": 0.1}
    assert unflatten(flat) == {"optimizer": {"": "adam", "type": "sgd", "lr": 0.1}}


def test_flatten_keeps_dotted_keys_and_drops_empty_mappings() -> None:
    assert flatten({"a.b": 1, "c": {"d": {"e": 2}}, "empty": {}}) == {"a.b": 1, "c.d.e": 2}


def test_flatten_rejects_non_string_keys_and_bad_values() -> None:
    with pytest.raises(InvalidNameError, match="1"):
        flatten({1: "x"})  # type: ignore[dict-item]
    with pytest.raises(InvalidValueError, match=r"'model\.weights'"):
        flatten({"model": {"weights": object()}})


def test_flatten_descends_into_dataclasses() -> None:
    @dataclasses.dataclass
    class Opt:
        name: str = "adam"
        lr: float = 0.1

    assert flatten({"opt": Opt()}) == {"opt.name": "adam", "opt.lr": 0.1}


# --- scalars ------------------------------------------------------------------------------------


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.booleans() | st.text() | st.none())
def test_plain_scalars_pass_unchanged(value: object) -> None:
    out = coerce_scalar("k", value)
    assert out == value
    assert type(out) is type(value)


@given(st.floats())
def test_floats_pass_unchanged_including_nonfinite(value: float) -> None:
    out = coerce_scalar("k", value)
    assert type(out) is float
    assert out == value or (math.isnan(out) and math.isnan(value))


@given(st.binary())
def test_bytes_round_trip_through_encoding(value: bytes) -> None:
    encoded = coerce_scalar("k", value)
    assert json.loads(json.dumps(encoded)) == encoded  # JSON-safe
    assert decode_value(encoded) == value
    assert decode_value(coerce_scalar("k", bytearray(value))) == value
    assert decode_value(coerce_scalar("k", memoryview(value))) == value


def test_decode_value_leaves_other_values_alone() -> None:
    assert decode_value({"$b64": "AA==", "other": 1}) == {"$b64": "AA==", "other": 1}
    assert decode_value("x") == "x"
    assert decode_value(encode_bytes(b"")) == b""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.float32(1.5), 1.5),
        (np.float64(-2.25), -2.25),
        (np.int8(-3), -3),
        (np.int64(2**40), 2**40),
        (np.uint16(7), 7),
        (np.bool_(True), True),
        (np.array(4.5), 4.5),
        (np.array(3), 3),
        (np.array(True), True),
        (np.str_("hi"), "hi"),
    ],
)
def test_numpy_scalars_and_0d_arrays_become_python_values(value: object, expected: object) -> None:
    out = coerce_scalar("k", value)
    assert out == expected
    assert type(out) is type(expected)


def test_numpy_nonfinite_scalars() -> None:
    assert math.isnan(coerce_scalar("k", np.float32("nan")))
    assert coerce_scalar("k", np.float64("-inf")) == -math.inf


class IntLevel(enum.IntEnum):
    LOW = 1


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (object(), "object"),
        ([1, 2], "list"),
        ({"a": 1}, "dict"),
        ((1,), "tuple"),
        (np.zeros(3), "ndarray"),
        (np.zeros((2, 2)), "ndarray"),
        (1 + 2j, "complex"),
    ],
)
def test_unstorable_metric_values_raise_naming_the_key(value: object, type_name: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        coerce_scalar("train/loss", value)
    assert isinstance(info.value, TypeError)
    assert "'train/loss'" in str(info.value)
    assert type_name in str(info.value)


def test_array_error_mentions_shape() -> None:
    with pytest.raises(InvalidValueError, match=r"shape \(2, 3\)"):
        coerce_scalar("w", np.ones((2, 3)))


def test_ints_past_64_bits_become_floats_and_past_the_float_range_are_refused() -> None:
    assert coerce_int("k", INT_MAX) == INT_MAX and type(coerce_int("k", INT_MAX)) is int
    assert coerce_int("k", INT_MIN) == INT_MIN and type(coerce_int("k", INT_MIN)) is int
    assert coerce_int("k", INT_MAX + 1) == float(2**64)
    assert coerce_int("k", INT_MIN - 1) == -float(2**63)
    assert coerce_scalar("k", np.uint64(INT_MAX)) == INT_MAX
    assert flatten({"a": {"b": 2**70}}) == {"a.b": float(2**70)}
    assert coerce_param("k", [2**70, {"c": -(2**70)}]) == [float(2**70), {"c": -float(2**70)}]
    for call in (
        lambda: coerce_int("lr", 10**400),
        lambda: coerce_scalar("lr", -(10**400)),
        lambda: flatten({"lr": 10**400}),
        lambda: coerce_param("lr", [10**400]),
    ):
        with pytest.raises(InvalidValueError, match=r"'lr.*' is an integer of 401 digits"):
            call()


def test_int_subclasses_become_plain_ints() -> None:
    out = coerce_scalar("k", IntLevel.LOW)
    assert out == 1 and type(out) is int


def test_has_nonfinite() -> None:
    assert has_nonfinite({"a": 1.0, "b": math.inf})
    assert has_nonfinite({"a": math.nan})
    assert not has_nonfinite({"a": 1.0, "b": "nan", "c": 3})


# --- params values and sources ----------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"


def test_coerce_param_accepts_containers_enums_and_paths() -> None:
    assert coerce_param("k", (1, 2.5, "x")) == [1, 2.5, "x"]
    assert coerce_param("k", [np.int32(1), [np.float64(2.0)]]) == [1, [2.0]]
    assert coerce_param("k", {"a": (1,)}) == {"a": [1]}
    assert coerce_param("k", {3, 1, 2}) == [1, 2, 3]
    assert coerce_param("k", Color.RED) == "red"
    assert coerce_param("k", PurePosixPath("/data/x")) == "/data/x"
    assert decode_value(coerce_param("k", b"\x01")) == b"\x01"


def test_coerce_param_rejects_objects_naming_the_element() -> None:
    with pytest.raises(InvalidValueError, match=r"'layers\[1\]'"):
        coerce_param("layers", [1, object()])


def test_to_mapping_sources() -> None:
    ns = argparse.Namespace(lr=0.1, epochs=3)
    assert to_mapping(ns) == {"lr": 0.1, "epochs": 3}

    @dataclasses.dataclass
    class Config:
        lr: float = 0.01
        layers: tuple[int, ...] = (1, 2)

    assert to_mapping(Config()) == {"lr": 0.01, "layers": (1, 2)}

    class Plain:
        lr = 0.5
        _hidden = 1

        def method(self) -> None:
            return None

    assert to_mapping(Plain) == {"lr": 0.5}
    assert to_mapping({"a": 1}) == {"a": 1}
    with pytest.raises(InvalidValueError, match="int"):
        to_mapping(5)


def test_load_params_files(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"lr": 0.1, "model": {"depth": 50}}')
    (tmp_path / "p.yaml").write_text("lr: 0.2\nmodel:\n  depth: 18\n  name: resnet\n")
    (tmp_path / "list.yml").write_text("- 1\n- 2\n")
    assert load_params_file(str(tmp_path / "p.json")) == {"lr": 0.1, "model": {"depth": 50}}
    assert load_params_file(str(tmp_path / "p.yaml")) == {
        "lr": 0.2,
        "model": {"depth": 18, "name": "resnet"},
    }
    with pytest.raises(InvalidValueError, match="mapping"):
        load_params_file(str(tmp_path / "list.yml"))
