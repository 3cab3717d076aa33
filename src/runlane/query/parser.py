"""Tokenizer and recursive-descent parser of the run filter language.

Grammar (keywords are case-insensitive; ``or`` binds loosest, then ``and``, then ``not``)::

    filter     := <empty> | or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" or_expr ")" | predicate
    predicate  := field ( cmp_op literal | "like" string | "ilike" string
                        | ["not"] "in" "(" literal ("," literal)* [","] ")"
                        | "contains" literal | "is" ["not"] "null" )
    cmp_op     := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    field      := segment ("." segment)*      (no spaces around the dots)
    segment    := identifier | `back-quoted`  (a doubled backtick is a literal backtick)
    literal    := string | number | "true" | "false" | "null"
    sort       := <empty> | ["-" | "+"] field ("," ["-" | "+"] field)*

Strings use single or double quotes; a doubled quote or ``\\'``, ``\\"``, ``\\\\``, ``\\n``,
``\\t``, ``\\r`` escape; any other backslash is kept as is (so ``'50\\%'`` reaches ``like`` as
``50\\%``). ``field = null`` and ``field != null`` mean ``is null`` and ``is not null``.
Every error is a :class:`~runlane.errors.QuerySyntaxError` that names the column (1-based), the
offending token and shows the text with a caret.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from runlane.errors import InvalidArgumentError, QuerySyntaxError
from runlane.query.ast import (
    PREFIXES,
    TOP_FIELDS,
    And,
    CompareOp,
    Contains,
    Expr,
    Field,
    In,
    IsNull,
    Literal,
    Not,
    Or,
    SortKey,
    TrueExpr,
)
from runlane.query.ast import Compare as CompareNode

KEYWORDS = frozenset(
    {"and", "or", "not", "in", "like", "ilike", "contains", "is", "null", "true", "false"}
)
MAX_DEPTH = 64
_ROOTS = frozenset((*TOP_FIELDS, *PREFIXES))
_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_FIRST_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NEXT_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]*")
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Token:
    """A token: ``kind`` is name/kw/str/num/op/sign/(/)/,/eof; ``pos`` a 0-based offset."""

    kind: str
    text: str
    pos: int
    value: str | int | float | tuple[str, ...] = ""


def _fail(text: str, pos: int, message: str, found: str | None = None) -> QuerySyntaxError:
    if found is None:
        found = "end of input" if pos >= len(text) else repr(text[pos])
    shown = re.sub(r"[\r\n\t]", " ", text)
    return QuerySyntaxError(
        f"{message} at column {pos + 1}, found {found}\n  {shown}\n  {' ' * pos}^"
    )


def _scan_string(text: str, start: int) -> tuple[str, int]:
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        char = text[i]
        if char == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    raise _fail(text, start, "unterminated string", repr(text[start:][:20]))


def _scan_segment(text: str, i: int, first: bool) -> tuple[str, int, bool]:
    """Return (segment, end, was_bare)."""
    if i < len(text) and text[i] == "`":
        out, j = [], i + 1
        while j < len(text):
            if text[j] == "`":
                if j + 1 < len(text) and text[j + 1] == "`":
                    out.append("`")
                    j += 2
                    continue
                if not out:
                    raise _fail(text, i, "empty field name", "``")
                return "".join(out), j + 1, False
            out.append(text[j])
            j += 1
        raise _fail(text, i, "unterminated back-quoted name", repr(text[i:][:20]))
    match = (_FIRST_SEGMENT if first else _NEXT_SEGMENT).match(text, i)
    if match is None:
        raise _fail(text, i, "expected a field name" if first else "expected a key after '.'")
    return match.group(), match.end(), True


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``eof`` token; raise QuerySyntaxError."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "(),":
            tokens.append(Token(char, char, i))
            i += 1
        elif char in "=!<>":
            two = text[i : i + 2]
            op = two if two in _OPS else char
            if op not in _OPS:
                raise _fail(text, i, "unknown operator")
            tokens.append(Token("op", op, i, _OPS[op]))
            i += len(op)
        elif char in "'\"":
            value, end = _scan_string(text, i)
            tokens.append(Token("str", text[i:end], i, value))
            i = end
        elif (match := _NUMBER.match(text, i)) is not None:
            end = match.end()
            if end < n and (text[end].isalnum() or text[end] in "_.`"):
                raise _fail(text, end, "malformed number")
            number = match.group()
            tokens.append(Token("num", number, i, _number_value(text, i, number)))
            i = end
        elif char in "+-":
            tokens.append(Token("sign", char, i))
            i += 1
        elif char == "`" or _FIRST_SEGMENT.match(text, i):
            segments: list[str] = []
            segment, end, bare = _scan_segment(text, i, first=True)
            segments.append(segment)
            while end < n and text[end] == ".":
                segment, end, _ = _scan_segment(text, end + 1, first=False)
                segments.append(segment)
            if bare and len(segments) == 1 and segment.lower() in KEYWORDS:
                tokens.append(Token("kw", text[i:end], i, segment.lower()))
            else:
                tokens.append(Token("name", text[i:end], i, tuple(segments)))
            i = end
        else:
            raise _fail(text, i, "unexpected character")
    tokens.append(Token("eof", "", n))
    return tokens


def _number_value(text: str, pos: int, number: str) -> int | float:
    if any(c in number for c in ".eE"):
        value = float(number)
        if value in (float("inf"), float("-inf")):
            raise _fail(text, pos, "number out of range", repr(number))
        return value
    return int(number)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def error(self, token: Token, message: str) -> QuerySyntaxError:
        found = "end of input" if token.kind == "eof" else repr(token.text)
        return _fail(self.text, token.pos, message, found)

    def is_kw(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "kw" and token.value in words

    def expect_kw(self, word: str) -> Token:
        if not self.is_kw(word):
            raise self.error(self.peek(), f"expected '{word}'")
        return self.advance()

    def build(self, token: Token, make: Callable[[], _T]) -> _T:
        try:
            return make()
        except InvalidArgumentError as exc:
            raise self.error(token, str(exc)) from None

    def parse_filter(self) -> Expr:
        if self.peek().kind == "eof":
            return TrueExpr()
        expr = self.or_expr()
        if self.peek().kind != "eof":
            raise self.error(self.peek(), "expected 'and', 'or' or the end of the filter")
        return expr

    def or_expr(self) -> Expr:
        items = [self.and_expr()]
        while self.is_kw("or"):
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Expr:
        items = [self.not_expr()]
        while self.is_kw("and"):
            self.advance()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Expr:
        token = self.peek()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(token, f"filter nested deeper than {MAX_DEPTH} levels")
        try:
            if self.is_kw("not"):
                self.advance()
                return Not(self.not_expr())
            if token.kind == "(":
                self.advance()
                expr = self.or_expr()
                if self.peek().kind != ")":
                    raise self.error(
                        self.peek(), f"expected ')' to close '(' at column {token.pos + 1}"
                    )
                self.advance()
                return expr
            if token.kind == "name":
                return self.predicate()
            raise self.error(token, "expected a field name, 'not' or '('")
        finally:
            self.depth -= 1

    def field(self) -> Field:
        token = self.advance()
        if token.kind != "name":
            raise self.error(token, "expected a field name")
        segments = token.value
        assert isinstance(segments, tuple)
        root = segments[0].lower() if segments[0].lower() in _ROOTS else segments[0]
        key = ".".join(segments[1:]) if len(segments) > 1 else None
        return self.build(token, lambda: Field(root, key))

    def literal(self) -> Literal:
        token = self.advance()
        if token.kind in ("str", "num"):
            value = token.value
            assert not isinstance(value, tuple)
            return self.build(token, lambda: Literal(value))
        if token.kind == "kw" and token.value in ("true", "false", "null"):
            return Literal(None if token.value == "null" else token.value == "true")
        raise self.error(token, "expected a value (a string, a number, true, false or null)")

    def predicate(self) -> Expr:
        field = self.field()
        token = self.peek()
        if token.kind == "op":
            self.advance()
            op = str(token.value)
            value = self.literal()
            if value.kind == "null" and op in ("=", "!="):
                return IsNull(field, negated=op == "!=")
            return self.build(token, lambda: CompareNode(field, _cmp_op(op), value))
        if self.is_kw("like", "ilike"):
            self.advance()
            value = self.literal()
            return self.build(token, lambda: CompareNode(field, _cmp_op(str(token.value)), value))
        if self.is_kw("is"):
            self.advance()
            negated = self.is_kw("not")
            if negated:
                self.advance()
            self.expect_kw("null")
            return IsNull(field, negated)
        if self.is_kw("not", "in"):
            negated = self.is_kw("not")
            if negated:
                self.advance()
            self.expect_kw("in")
            values = self.literal_list()
            return self.build(token, lambda: In(field, values, negated))
        if self.is_kw("contains"):
            self.advance()
            value = self.literal()
            return self.build(token, lambda: Contains(field, value))
        raise self.error(
            token,
            f"expected an operator after {field} "
            "(=, !=, <, <=, >, >=, like, ilike, in, not in, contains, is null, is not null)",
        )

    def literal_list(self) -> tuple[Literal, ...]:
        if self.peek().kind != "(":
            raise self.error(self.peek(), "expected '(' to start the 'in' list")
        self.advance()
        values = [self.literal()]
        while self.peek().kind == ",":
            self.advance()
            if self.peek().kind == ")":
                break
            values.append(self.literal())
        if self.peek().kind != ")":
            raise self.error(self.peek(), "expected ',' or ')' in the 'in' list")
        self.advance()
        return tuple(values)

    def parse_sort(self) -> list[SortKey]:
        keys: list[SortKey] = []
        if self.peek().kind == "eof":
            return keys
        while True:
            descending = False
            if self.peek().kind == "sign":
                descending = self.advance().text == "-"
            token = self.peek()
            field = self.field()
            if field.kind == "tags":
                raise self.error(token, "tags cannot be sorted on")
            keys.append((field, descending))
            if self.peek().kind == "eof":
                return keys
            if self.peek().kind != ",":
                raise self.error(self.peek(), "expected ',' or the end of the sort")
            self.advance()


def _cmp_op(op: str) -> CompareOp:
    for known in ("=", "!=", "<", "<=", ">", ">=", "like", "ilike"):
        if op == known:
            return known
    raise InvalidArgumentError(f"unknown operator {op!r}")


def _check_text(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise InvalidArgumentError(f"{what} must be a string, not {type(text).__name__}")
    return text


def parse(text: str) -> Expr:
    """Parse a filter; an empty or blank filter gives :class:`TrueExpr` (matches every run).

    Raises QuerySyntaxError (an InvalidArgumentError) with the column of the offending token.
    """
    return _Parser(_check_text(text, "filter")).parse_filter()


def parse_sort(text: str) -> list[SortKey]:
    """Parse ``"-created,params.lr"`` into ``[(Field('created'), True), (Field('params', 'lr'),
    False)]``: comma-separated fields, ``-`` for descending. Blank text gives ``[]``.
    """
    return _Parser(_check_text(text, "sort")).parse_sort()
