"""Parse a GraphQL request document: tokens, the syntax tree (operations, fields, fragments), names.

Only what a client's request needs is read: operations with variable defaults, selection sets with
aliases, arguments, directives and fragments. Types in variable definitions are skipped, since the
server has no schema to check them against; ``evaluate`` gives an argument's value once the request's
variables are known.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Document",
    "Field",
    "FragmentSpread",
    "GraphQLSyntaxError",
    "InlineFragment",
    "Operation",
    "Selection",
    "evaluate",
    "operation_name_from_text",
    "parse",
]


class GraphQLSyntaxError(ValueError):
    """The request text is not a GraphQL document this reader understands."""


@dataclass
class Field:
    name: str
    alias: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)  # raw AST values
    directives: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    selections: list[Selection] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class FragmentSpread:
    name: str
    directives: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class InlineFragment:
    type_condition: str | None
    directives: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    selections: list[Selection] = field(default_factory=list)


Selection = Field | FragmentSpread | InlineFragment


@dataclass
class Operation:
    kind: str  # "query" | "mutation" | "subscription"
    name: str | None
    variable_defaults: dict[str, Any]
    selections: list[Selection]


@dataclass
class Document:
    operations: list[Operation]
    fragments: dict[str, InlineFragment]

    def operation(self, name: str | None) -> Operation:
        if name:
            for op in self.operations:
                if op.name == name:
                    return op
            raise GraphQLSyntaxError(f"operation {name!r} is not defined in the document")
        if not self.operations:
            raise GraphQLSyntaxError("the document defines no operation")
        return self.operations[0]


@dataclass(frozen=True)
class _Var:
    name: str


@dataclass(frozen=True)
class _Enum:
    value: str


_TOKEN = re.compile(
    r"(?P<ws>[\s,\ufeff]+|#[^\n\r]*)"
    r'|(?P<block>"""(?:\\"""|[^"]|"(?!""))*""")'
    r'|(?P<str>"(?:\\.|[^"\\\n])*")'
    r"|(?P<num>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[_A-Za-z][_0-9A-Za-z]*)"
    r"|(?P<punct>\.\.\.|[!$&()\:=@\[\]{}|])"
)


_OP_NAME = re.compile(r"\b(query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


def operation_name_from_text(text: str) -> str | None:
    """Name of the first named operation in ``text`` (clients send ``operationName: ""``)."""
    m = _OP_NAME.search(text)
    return m.group(2) if m else None


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise GraphQLSyntaxError(f"unexpected character {text[pos]!r} at offset {pos}")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append((kind, m.group(0)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("eof", "")

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        tk, tv = self.peek()
        if (value is not None and tv != value) or (kind is not None and tk != kind) or tk == "eof":
            want = value or kind or "token"
            raise GraphQLSyntaxError(f"expected {want!r}, got {tv!r} (token {self.i})")
        self.i += 1
        return tv

    def accept(self, value: str) -> bool:
        if self.peek()[1] == value and self.peek()[0] in ("punct", "name"):
            self.i += 1
            return True
        return False

    def document(self) -> Document:
        ops: list[Operation] = []
        frags: dict[str, InlineFragment] = {}
        while self.peek()[0] != "eof":
            tk, tv = self.peek()
            if tv == "{":
                ops.append(Operation("query", None, {}, self.selection_set()))
            elif tv == "fragment":
                self.take()
                name = self.take(kind="name")
                self.take("on")
                cond = self.take(kind="name")
                directives = self.directives()
                frags[name] = InlineFragment(cond, directives, self.selection_set())
            elif tv in ("query", "mutation", "subscription"):
                self.take()
                op_name = self.take(kind="name") if self.peek()[0] == "name" else None
                defaults = self.variable_definitions() if self.peek()[1] == "(" else {}
                self.directives()
                ops.append(Operation(tv, op_name, defaults, self.selection_set()))
            else:
                raise GraphQLSyntaxError(f"unexpected {tv!r} ({tk}) at top level")
        return Document(ops, frags)

    def variable_definitions(self) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        self.take("(")
        while not self.accept(")"):
            self.take("$")
            name = self.take(kind="name")
            self.take(":")
            self.type_ref()
            if self.accept("="):
                defaults[name] = self.value(const=True)
            self.directives()
        return defaults

    def type_ref(self) -> None:
        if self.accept("["):
            self.type_ref()
            self.take("]")
        else:
            self.take(kind="name")
        self.accept("!")

    def directives(self) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        while self.accept("@"):
            name = self.take(kind="name")
            out.append((name, self.arguments()))
        return out

    def arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.accept("("):
            while not self.accept(")"):
                name = self.take(kind="name")
                self.take(":")
                args[name] = self.value(const=False)
        return args

    def selection_set(self) -> list[Selection]:
        self.take("{")
        out: list[Selection] = []
        while not self.accept("}"):
            if self.accept("..."):
                if self.peek()[1] == "on" and self.peek(1)[0] == "name":
                    self.take()
                    cond = self.take(kind="name")
                    directives = self.directives()
                    out.append(InlineFragment(cond, directives, self.selection_set()))
                elif self.peek()[1] in ("{", "@"):
                    directives = self.directives()
                    out.append(InlineFragment(None, directives, self.selection_set()))
                else:
                    name = self.take(kind="name")
                    out.append(FragmentSpread(name, self.directives()))
                continue
            name = self.take(kind="name")
            alias = None
            if self.accept(":"):
                alias, name = name, self.take(kind="name")
            args = self.arguments()
            directives = self.directives()
            subs = self.selection_set() if self.peek()[1] == "{" else []
            out.append(Field(name, alias, args, directives, subs))
        return out

    def value(self, const: bool) -> Any:
        tk, tv = self.peek()
        if tv == "$" and tk == "punct" and not const:
            self.take()
            return _Var(self.take(kind="name"))
        if tk == "num":
            self.take()
            return float(tv) if any(c in tv for c in ".eE") else int(tv)
        if tk == "str":
            self.take()
            return _unescape(tv[1:-1])
        if tk == "block":
            self.take()
            return tv[3:-3].replace('\\"""', '"""')
        if tk == "name":
            self.take()
            return _LITERALS[tv] if tv in _LITERALS else _Enum(tv)
        if tv == "[":
            self.take()
            items = []
            while not self.accept("]"):
                items.append(self.value(const))
            return items
        if tv == "{":
            self.take()
            obj: dict[str, Any] = {}
            while not self.accept("}"):
                key = self.take(kind="name")
                self.take(":")
                obj[key] = self.value(const)
            return obj
        raise GraphQLSyntaxError(f"unexpected {tv!r} where a value was expected")


_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape(s: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            if nxt == "u":
                out.append(chr(int(s[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


_PARSE_CACHE: dict[str, Document] = {}


def parse(text: str) -> Document:
    """Parse a GraphQL document (cached: clients send the same few texts over and over)."""
    doc = _PARSE_CACHE.get(text)
    if doc is None:
        doc = _Parser(text).document()
        if len(_PARSE_CACHE) < 512:
            _PARSE_CACHE[text] = doc
    return doc


def evaluate(value: Any, variables: Mapping[str, Any]) -> Any:
    """An argument's value: variables replaced by the request's values, enum names by their text."""
    if isinstance(value, _Var):
        return variables.get(value.name)
    if isinstance(value, _Enum):
        return value.value
    if isinstance(value, list):
        return [evaluate(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: evaluate(v, variables) for k, v in value.items()}
    return value
