"""Answer a parsed operation: shape resolver data by its selection sets, without a schema.

The recording server answers each operation from a tree of plain dicts (callables for fields that
take arguments). Shaping the answer by the query text itself means every client version gets exactly
the fields it asked for, aliases and fragments included, and ``@skip``/``@include`` honoured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .document import Document, Field, FragmentSpread, GraphQLSyntaxError, Operation, Selection, evaluate

__all__ = ["Resolver", "execute", "root_fields"]


# A resolver receives the field's evaluated arguments and returns data (or another tree).
Resolver = Callable[[dict[str, Any]], Any]


def _included(directives: list[tuple[str, dict[str, Any]]], variables: Mapping[str, Any]) -> bool:
    for name, args in directives:
        cond = bool(evaluate(args.get("if"), variables))
        if name == "include" and not cond:
            return False
        if name == "skip" and cond:
            return False
    return True


class _Context:
    def __init__(self, doc: Document, variables: Mapping[str, Any]) -> None:
        self.doc = doc
        self.variables = variables


def _collect(selections: list[Selection], typename: str | None, ctx: _Context, out: dict[str, list[Field]]) -> None:
    for sel in selections:
        if not _included(sel.directives, ctx.variables):
            continue
        if isinstance(sel, Field):
            out.setdefault(sel.key, []).append(sel)
            continue
        frag = ctx.doc.fragments.get(sel.name) if isinstance(sel, FragmentSpread) else sel
        if frag is None:
            raise GraphQLSyntaxError(f"unknown fragment {getattr(sel, 'name', '?')!r}")
        cond = frag.type_condition
        # Without a __typename on the data, interface/type conditions are assumed to match.
        if cond is not None and typename is not None and cond != typename and not _abstract(cond):
            continue
        if isinstance(sel, FragmentSpread) and not _included(frag.directives, ctx.variables):
            continue
        _collect(frag.selections, typename, ctx, out)


def _abstract(type_name: str) -> bool:
    # Interfaces/unions the client spreads on; concrete data always satisfies them here.
    return type_name in {"ArtifactCollection", "Node"}


def _shape(data: Any, selections: list[Selection], ctx: _Context) -> Any:
    if data is None:
        return None
    if isinstance(data, (list, tuple)):
        return [_shape(item, selections, ctx) for item in data]
    if not isinstance(data, Mapping):
        return data
    typename = data.get("__typename")
    grouped: dict[str, list[Field]] = {}
    _collect(selections, typename if isinstance(typename, str) else None, ctx, grouped)
    out: dict[str, Any] = {}
    for key, fields in grouped.items():
        first = fields[0]
        if first.name == "__typename":
            out[key] = typename
            continue
        raw = data.get(first.name)
        if callable(raw):
            raw = raw({k: evaluate(v, ctx.variables) for k, v in first.arguments.items()})
        subs: list[Selection] = [s for f in fields for s in f.selections]
        out[key] = _shape(raw, subs, ctx) if subs else _leaf_value(raw)
    return out


def _leaf_value(value: Any) -> Any:
    """A field selected without subfields: JSON scalars (or JSON-typed objects such as historyKeys) as they
    are; a resolver is dropped (``None``), never called."""
    if callable(value):
        return None
    return value


def execute(
    doc: Document, operation: Operation, root: Mapping[str, Any], variables: Mapping[str, Any]
) -> dict[str, Any]:
    """Shape ``root`` by the operation's selection set, with ``variables`` over the declared defaults."""
    merged = dict(operation.variable_defaults)
    merged.update({k: v for k, v in variables.items()})
    result = _shape(root, operation.selections, _Context(doc, merged))
    return result if isinstance(result, dict) else {}


def root_fields(doc: Document, operation: Operation, variables: Mapping[str, Any]) -> list[str]:
    """Names (not aliases) of the operation's top-level fields, fragments expanded."""
    grouped: dict[str, list[Field]] = {}
    merged = dict(operation.variable_defaults)
    merged.update(variables)
    _collect(operation.selections, None, _Context(doc, merged), grouped)
    return [fields[0].name for fields in grouped.values()]
