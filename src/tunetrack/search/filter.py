"""The search filter language: a tokenizer, a recursive-descent parser and order_by parsing.

Grammar (keywords are case-insensitive; ``and`` binds tighter than ``or``)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := primary ("and" primary)*
    primary    := "(" expr ")" | comparison
    comparison := field op value
    field      := entity "." key | attribute          entity: metrics, params, tags, attributes
    op         := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN
    value      := literal | "(" literal ("," literal)* ")"       (the list only after IN / NOT IN)

Keys may be quoted with backticks or double quotes (``metrics."val acc"``); an unquoted key is
everything after the first dot (``metrics.val.acc`` -> key ``val.acc``). Strings take single or
double quotes; inside them a quote is written doubled or backslash-escaped and ``\\\\`` is one
backslash (other backslashes are kept, so ``'50\\%'`` is a LIKE pattern matching ``50%``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from tunetrack.entities import RunStatus
from tunetrack.errors import InvalidInput

Scalar: TypeAlias = str | int | float
Value: TypeAlias = Scalar | tuple[Scalar, ...]

# ----------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Comparison:
    """``<entity>.<key> <op> <value>``; entity is metric, param, tag or attribute."""

    entity: str
    key: str
    op: str
    value: Value
    column: int = field(default=0, compare=False)  # 1-based column of the field in source
    source: str = field(default="", compare=False, repr=False)

    def error(self, message: str) -> InvalidInput:
        """An :class:`InvalidInput` pointing at this comparison in its filter."""
        return _error(self.source, "filter", max(self.column - 1, 0), message)


@dataclass(frozen=True)
class And:
    """All of ``items`` hold."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """At least one of ``items`` holds."""

    items: tuple[Expr, ...]


Expr: TypeAlias = Comparison | And | Or


@dataclass(frozen=True)
class OrderKey:
    """One order_by entry: sort by ``entity``/``key`` (entity as in :class:`Comparison`)."""

    entity: str
    key: str
    ascending: bool = True


# ----------------------------------------------------------------------------- language tables

_ENTITIES = {
    "metrics": "metric", "metric": "metric",
    "params": "param", "param": "param",
    "tags": "tag", "tag": "tag",
    "attributes": "attribute", "attribute": "attribute", "attr": "attribute", "run": "attribute",
}  # fmt: skip
_PLURAL = {"metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes"}

# Value kind of every attribute of runs, experiments, registered models and model versions;
# sql.py checks which apply where.
ATTRIBUTE_KINDS = {
    "run_id": "string", "run_name": "string", "user_id": "string", "artifact_uri": "string",
    "parent_run_id": "string", "status": "status", "start_time": "number",
    "end_time": "number", "experiment_id": "id", "name": "string",
    "creation_time": "number", "last_update_time": "number", "last_updated_time": "number",
    "version": "number", "source": "string", "current_stage": "string",
}  # fmt: skip
_ATTRIBUTE_ALIASES = {"created": "start_time"}

_SET_OPS = ("IN", "NOT IN")
_KIND_OPS = {
    "number": ("=", "!=", "<", "<=", ">", ">=", *_SET_OPS),
    "string": ("=", "!=", "LIKE", "ILIKE", *_SET_OPS),
    "status": ("=", "!=", *_SET_OPS),
    "id": ("=", "!=", *_SET_OPS),
}
_ALL_OPS = "=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN"
_KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "asc", "desc"}
_MAX_DEPTH = 64
_INT64 = 2**63

# ----------------------------------------------------------------------------- errors


def _error(source: str, what: str, pos: int, message: str) -> InvalidInput:
    """Build "Invalid <what> at column N: message" plus the source with a caret under N."""
    shown = re.sub(r"\s", " ", source)
    start = max(0, pos - 60)
    snippet = ("..." if start else "") + shown[start : pos + 60]
    if pos + 60 < len(shown):
        snippet += "..."
    caret = " " * (pos - start + (3 if start else 0)) + "^"
    return InvalidInput(f"Invalid {what} at column {pos + 1}: {message}\n  {snippet}\n  {caret}")


# ----------------------------------------------------------------------------- tokenizer

IDENT, STRING, QKEY, NUMBER, OP, LPAREN, RPAREN, COMMA, EOF = (
    "identifier", "string", "quoted key", "number", "operator", "'('", "')'", "','", "end",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, source text, decoded value and 0-based offset."""

    kind: str
    text: str
    value: Scalar
    pos: int


_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INF = re.compile(r"-?inf(?:inity)?", re.IGNORECASE)
_OPS = ("!=", "<=", ">=", "=", "<", ">")
_PUNCT = {"(": LPAREN, ")": RPAREN, ",": COMMA}


def _ident_end(text: str, i: int) -> int:
    """The offset just past the identifier characters starting at ``i``."""
    while i < len(text) and (text[i].isalnum() or text[i] in "_-/."):
        i += 1
    return i


def tokenize(text: str, what: str = "filter") -> list[Token]:
    """Split ``text`` into tokens, ending with an EOF token; raise InvalidInput on bad input."""
    _check_storable(text, what)
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in _PUNCT:
            tokens.append(Token(_PUNCT[c], c, c, i))
            i += 1
        elif op := next((o for o in _OPS if text.startswith(o, i)), None):
            tokens.append(Token(OP, op, op, i))
            i += len(op)
        elif c in "'\"`":
            token, i = _read_quoted(text, i, what)
            tokens.append(token)
        elif (m := _INF.match(text, i)) and _ident_end(text, m.end()) == m.end():
            tokens.append(Token(NUMBER, m.group(), float("-inf" if c == "-" else "inf"), i))
            i = m.end()
        elif m := _NUMBER.match(text, i):
            if (end := _ident_end(text, m.end())) > m.end():
                raise _error(text, what, i, f"invalid number {text[i:end]!r}")
            tokens.append(Token(NUMBER, m.group(), _number(m.group(), text, what, i), i))
            i = end
        elif c.isalpha() or c == "_":
            end = _ident_end(text, i + 1)
            tokens.append(Token(IDENT, text[i:end], text[i:end], i))
            i = end
        else:
            raise _error(text, what, i, f"unexpected character {c!r}")
    tokens.append(Token(EOF, "", "", n))
    return tokens


def _check_storable(text: str, what: str) -> None:
    """Refuse text no store holds (a NUL, an unpaired surrogate): it can match nothing, and
    a database driver would fail to send it."""
    if "\x00" in text:
        raise _error(text, what, text.index("\x00"), "a NUL character (\\x00) is not allowed")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _error(
                text, what, exc.start, f"an unpaired surrogate {text[exc.start]!r} is not text"
            ) from None


def _number(lexeme: str, text: str, what: str, pos: int) -> int | float:
    if any(ch in lexeme for ch in ".eE"):
        return float(lexeme)
    if len(lexeme) > 30:
        raise _error(text, what, pos, f"number {lexeme[:30]}... is too long")
    value = int(lexeme)
    return value if -_INT64 < value < _INT64 else float(value)


def _read_quoted(text: str, start: int, what: str) -> tuple[Token, int]:
    quote, i, out = text[start], start + 1, []
    while i < len(text):
        c = text[i]
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if c == "\\" and quote != "`" and nxt in (quote, "\\"):
            out.append(nxt)
            i += 2
        elif c == quote and nxt == quote:
            out.append(quote)
            i += 2
        elif c == quote:
            kind = QKEY if quote == "`" else STRING
            return Token(kind, text[start : i + 1], "".join(out), start), i + 1
        else:
            out.append(c)
            i += 1
    noun = "quoted key" if quote == "`" else "string"
    raise _error(text, what, start, f"unterminated {noun}: no closing {quote}")


# ----------------------------------------------------------------------------- parser


def _describe(token: Token) -> str:
    return "the end" if token.kind == EOF else repr(token.text)


class _Parser:
    def __init__(self, source: str, what: str) -> None:
        self.source, self.what = source, what
        self.tokens = tokenize(source, what)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def error(self, pos: int, message: str) -> InvalidInput:
        return _error(self.source, self.what, pos, message)

    def at_keyword(self, *words: str) -> bool:
        return self.tok.kind == IDENT and self.tok.text.lower() in words

    def parse(self) -> Expr:
        expr = self.or_expr()
        t = self.tok
        if t.kind == RPAREN:
            raise self.error(t.pos, "unbalanced parenthesis: ')' has no matching '('")
        if t.kind != EOF:
            got = _describe(t)
            raise self.error(t.pos, f"unexpected {got} after a comparison; expected AND or OR")
        return expr

    def or_expr(self) -> Expr:
        items = [self.and_expr()]
        while self.at_keyword("or"):
            self.advance()
            items.append(self.and_expr())
        return _combine(Or, items)

    def and_expr(self) -> Expr:
        items = [self.primary()]
        while self.at_keyword("and"):
            self.advance()
            items.append(self.primary())
        return _combine(And, items)

    def primary(self) -> Expr:
        opening = self.tok
        if opening.kind != LPAREN:
            return self.comparison()
        if self.depth >= _MAX_DEPTH:
            raise self.error(opening.pos, f"parentheses nested deeper than {_MAX_DEPTH} levels")
        self.depth += 1
        self.advance()
        expr = self.or_expr()
        t = self.tok
        if t.kind == EOF:
            raise self.error(opening.pos, "unbalanced parenthesis: this '(' is never closed")
        if t.kind != RPAREN:
            raise self.error(t.pos, f"expected ')', AND or OR, got {_describe(t)}")
        self.advance()
        self.depth -= 1
        return expr

    def comparison(self) -> Comparison:
        start = self.tok
        entity, key = self.field("a comparison like metrics.acc > 0.9")
        label = key if entity == "attribute" else f"{_PLURAL[entity]}.{key}"
        kind = ATTRIBUTE_KINDS[key] if entity == "attribute" else _ENTITY_KINDS[entity]
        op_tok = self.tok
        op = self.operator(label)
        if op not in _KIND_OPS[kind]:
            allowed = ", ".join(_KIND_OPS[kind])
            raise self.error(op_tok.pos, f"{label} does not support {op}; use one of {allowed}")
        if op in _SET_OPS:
            value: Value = tuple(self.convert(t, kind, label, op) for t in self.value_list(op))
        else:
            value = self.convert(self.scalar(op_tok.text), kind, label, op)
        return Comparison(entity, key, op, value, start.pos + 1, self.source)

    def field(self, expected: str) -> tuple[str, str]:
        t = self.tok
        if t.kind != IDENT or t.text.lower() in _KEYWORDS:
            after = self.tokens[self.i - 1].text if self.i else ""
            where = f" after {after!r}" if after else ""
            raise self.error(t.pos, f"expected {expected}{where}, got {_describe(t)}")
        self.advance()
        prefix, dot, rest = t.text.partition(".")
        if not dot:
            if prefix.lower() in _ENTITIES:
                raise self.error(t.pos + len(t.text), f"expected '.<key>' after {prefix!r}")
            return "attribute", self.attribute(prefix, t.pos)
        entity = _ENTITIES.get(prefix.lower())
        if entity is None:
            raise self.error(
                t.pos, f"unknown entity {prefix!r}; use metrics., params., tags. or attributes."
            )
        key, key_pos = rest, t.pos + len(prefix) + 1
        if not rest:
            k = self.tok
            if k.kind == STRING and k.text.startswith("'"):
                raise self.error(k.pos, "quote keys with backticks or double quotes, not '")
            if k.kind not in (QKEY, STRING):
                raise self.error(k.pos, f"expected a key after {t.text!r}, got {_describe(k)}")
            self.advance()
            key, key_pos = str(k.value), k.pos
            if not key:
                raise self.error(k.pos, "empty key")
        return entity, self.attribute(key, key_pos) if entity == "attribute" else key

    def attribute(self, name: str, pos: int) -> str:
        canonical = _ATTRIBUTE_ALIASES.get(name.lower(), name.lower())
        if canonical not in ATTRIBUTE_KINDS:
            valid = ", ".join(sorted(ATTRIBUTE_KINDS))
            raise self.error(pos, f"unknown attribute {name!r}; valid attributes: {valid}")
        return canonical

    def operator(self, label: str) -> str:
        t = self.tok
        if t.kind == OP:
            self.advance()
            return t.text
        if self.at_keyword("like", "ilike", "in"):
            self.advance()
            return t.text.upper()
        if self.at_keyword("not"):
            self.advance()
            if not self.at_keyword("in"):
                raise self.error(self.tok.pos, f"expected IN after NOT, got {_describe(self.tok)}")
            self.advance()
            return "NOT IN"
        got = _describe(t)
        raise self.error(t.pos, f"expected an operator ({_ALL_OPS}) after {label!r}, got {got}")

    def scalar(self, after: str) -> Token:
        t = self.tok
        if t.kind in (STRING, NUMBER):
            return self.advance()
        if t.kind == IDENT and t.text.lower() == "nan":
            raise self.error(t.pos, "NaN is stored as a missing value and never matches")
        if t.kind == IDENT and t.text.lower() not in _KEYWORDS:
            raise self.error(t.pos, f"unquoted value {t.text!r}: put strings in quotes, '{t.text}'")
        raise self.error(t.pos, f"expected a value after {after!r}, got {_describe(t)}")

    def value_list(self, op: str) -> list[Token]:
        opening = self.tok
        if opening.kind != LPAREN:
            got = _describe(opening)
            raise self.error(opening.pos, f"expected '(' after {op}, like ('a', 'b'); got {got}")
        self.advance()
        if self.tok.kind == RPAREN:
            raise self.error(self.tok.pos, f"empty {op} list")
        items = [self.scalar("(")]
        while self.tok.kind == COMMA:
            items.append(self.scalar(self.advance().text))
        if self.tok.kind == EOF:
            raise self.error(opening.pos, "unbalanced parenthesis: this '(' is never closed")
        if self.tok.kind != RPAREN:
            raise self.error(self.tok.pos, f"expected ',' or ')' in the {op} list")
        self.advance()
        return items

    def convert(self, t: Token, kind: str, label: str, op: str) -> Scalar:
        """Check the literal's type against the field's kind; return the value to compare."""
        if kind == "number":
            if t.kind != NUMBER:
                raise self.error(t.pos, f"{label} compares numbers, got the string {t.text}")
            return t.value
        if kind == "id":
            text = str(t.value)
            if not text.isascii() or not text.isdigit() or len(text) > 18:
                raise self.error(t.pos, f"{label} must be an integer id, got {t.text}")
            return int(text)
        if t.kind != STRING:
            raise self.error(t.pos, f"{label} compares strings: quote the value, '{t.text}'")
        value = str(t.value)
        if kind == "status":
            if value.upper() not in RunStatus.__members__:
                valid = ", ".join(RunStatus.__members__)
                raise self.error(t.pos, f"invalid status {t.text}; valid statuses: {valid}")
            return value.upper()
        if op in ("LIKE", "ILIKE") and (len(value) - len(value.rstrip("\\"))) % 2:
            raise self.error(t.pos, f"{op} pattern ends with an unpaired backslash")
        return value


_ENTITY_KINDS = {"metric": "number", "param": "string", "tag": "string"}


def _combine(cls: type[And] | type[Or], items: list[Expr]) -> Expr:
    if len(items) == 1:
        return items[0]
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, cls) else (item,))
    return cls(tuple(flat))


# ----------------------------------------------------------------------------- public API


def parse_filter(text: str | None) -> Expr | None:
    """Parse a filter string into an AST; ``None`` or blank gives ``None``."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidInput(f"Invalid filter: expected a string, got {type(text).__name__}")
    if not text.strip():
        return None
    return _Parser(text, "filter").parse()


def parse_order_by(clauses: Sequence[str] | None) -> list[OrderKey]:
    """Parse order_by entries like ``"metrics.acc DESC"`` or ``"start_time"`` (default ASC)."""
    if clauses is None:
        return []
    if isinstance(clauses, str):
        clauses = [clauses]
    keys = []
    for clause in clauses:
        if not isinstance(clause, str) or not clause.strip():
            raise InvalidInput(
                f"Invalid order_by clause {clause!r}: expected a column and an optional "
                "ASC/DESC, like 'metrics.acc DESC'"
            )
        parser = _Parser(clause, "order_by clause")
        entity, key = parser.field("a column to sort by")
        ascending = True
        direction = parser.advance() if parser.at_keyword("asc", "desc") else None
        ascending = direction is None or direction.text.lower() == "asc"
        if parser.tok.kind != EOF:
            got = _describe(parser.tok)
            expected = "nothing after ASC/DESC" if direction else "ASC or DESC"
            raise parser.error(parser.tok.pos, f"expected {expected}, got {got}")
        keys.append(OrderKey(entity, key, ascending))
    return keys
