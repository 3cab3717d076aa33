"""Name validation (runlane.names): nothing accepted can escape the folder it is joined to."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from runlane.errors import InvalidNameError
from runlane.names import MAX_NAME_LENGTH, check_key, check_name, check_path, slugify

FIRST = string.ascii_letters + string.digits + "_"
REST = FIRST + ".-+@=: "

valid_names = st.builds(
    lambda first, rest, last: first + rest + last,
    st.sampled_from(FIRST),
    st.text(alphabet=REST, max_size=60),
    st.sampled_from(FIRST + "-+@=:"),
).filter(lambda s: ".." not in s)

# path-like text: pieces that matter for escaping ("..", "/", "~", drive letters) glued together
any_text = st.lists(
    st.sampled_from(
        [*REST, "/", "\\", "\x00", "\n", "\x7f", "~", "é", "*", "$", "..", "../", "/..", "C:"]
    ),
    max_size=20,
).map("".join) | st.text(max_size=40)


@given(any_text)
@example("..")
@example(".")
@example("../x")
@example("a/../../b")
@example("/etc/passwd")
@example("~")
@example("C:\\x")
def test_check_name_never_escapes_the_folder(name: str) -> None:
    root = Path("/srv/runlane-root")
    try:
        accepted = check_name(name)
    except InvalidNameError:
        return
    assert accepted == name
    resolved = Path(root, name).resolve()
    assert resolved.parent == root  # a single segment directly under root
    assert resolved.name == name


@given(any_text)
@example("a/../../b")
@example("/abs/path")
@example("a//b")
@example("a/./b")
def test_check_path_never_escapes_the_folder(path: str) -> None:
    root = Path("/srv/runlane-root")
    try:
        check_path(path)
    except InvalidNameError:
        return
    resolved = Path(root, path).resolve()
    assert resolved.is_relative_to(root)
    assert resolved != root
    assert resolved.relative_to(root).as_posix() == path


@given(valid_names)
def test_check_name_accepts_valid_names(name: str) -> None:
    assume(len(name) <= MAX_NAME_LENGTH)
    assert check_name(name) == name


@given(st.lists(valid_names, min_size=1, max_size=4))
def test_check_path_accepts_slash_joined_valid_names(parts: list[str]) -> None:
    path = "/".join(parts)
    assume(len(path) <= 512)
    assume(not (path[0].isalpha() and path[1:2] == ":"))  # "C:..." reads as a Windows drive
    assert check_path(path) == path


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("", "may not be empty"),
        ("x" * (MAX_NAME_LENGTH + 1), "the limit is 128"),
        ("bad\nname", "control characters"),
        ("tab\there", "control characters"),
        ("a..b", "'..'"),
        ("..", "'..'"),
        ("a/b", "'/'"),
        ("a\\b", "'/'"),
        ("/etc", "'/'"),
        ("trailing.", "end with"),
        ("trailing ", "end with"),
        ("-leading", "may only contain"),
        ("star*", "may only contain"),
        (3, "must be a string"),
    ],
)
def test_check_name_rejections_name_value_and_rule(value: object, rule: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        check_name(value, "run name")
    message = str(info.value)
    assert "run name" in message
    assert rule in message
    if isinstance(value, str) and value:
        assert repr(value[:40]) in message


def test_check_name_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        check_name("a/b")


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("/abs/olute", "must be relative"),
        ("C:/windows", "must be relative"),
        ("a//b", "may not be empty"),
        ("a/../b", "'..'"),
        ("a/./b", "end with"),
        ("a/b/", "may not be empty"),
        ("", "may not be empty"),
        ("x/" * 300, "the limit is 512"),
    ],
)
def test_check_path_rejections(value: str, rule: str) -> None:
    with pytest.raises(InvalidNameError, match=rule.replace(".", r"\.")):
        check_path(value, "folder")


def test_check_key_allows_dots_and_slashes_but_not_control_characters() -> None:
    assert check_key("train/loss.avg") == "train/loss.avg"
    with pytest.raises(InvalidNameError, match="may not be empty"):
        check_key("")
    with pytest.raises(InvalidNameError, match="control characters"):
        check_key("a\x00b")
    with pytest.raises(InvalidNameError, match="longer than 256"):
        check_key("k" * 257)


@given(st.text(max_size=200))
def test_slugify_always_gives_a_valid_name(text: str) -> None:
    slug = slugify(text)
    assert check_name(slug) == slug
    assert slug == slug.lower()
