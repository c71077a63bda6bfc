"""One GraphQL request, from its JSON body to its answer: read, parse, validate against the schema, execute.

Each step that can fail has its own ``RequestError`` with the HTTP status and a message that says what was
wrong, so the HTTP layer only maps outcomes: a malformed body, a document that does not parse or does not
validate, and variables that do not fit the operation are 400s; a resolver's ``ResolverError`` is a GraphQL
``errors`` entry in a 200, like a real server's; any other exception is a server bug and propagates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    execute,
    get_operation_ast,
    parse,
    validate,
)

from .context import ResolverError
from .schema import resolve_field, schema

__all__ = ["GraphQLRequest", "RequestError", "answer", "operation_name", "read_request", "root_fields"]

NOT_IMPLEMENTED = "not implemented by the local W&B server"
#: Longest document parsed, in tokens: the largest a wandb client sends is a few hundred.
MAX_TOKENS = 20_000


class RequestError(Exception):
    """A request the server cannot answer as sent; ``kind`` names the event it is recorded as."""

    def __init__(self, message: str, *, kind: str, detail: dict[str, Any] | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.kind = kind
        self.detail = detail or {}
        self.status = status


@dataclass
class GraphQLRequest:
    """A parsed and validated request: the document, the operation it runs, and its variables."""

    query: str
    document: DocumentNode
    operation: OperationDefinitionNode
    variables: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        return self.operation.name.value if self.operation.name else None


_OP_NAME = re.compile(r"\b(query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


def operation_name(body: bytes) -> str | None:
    """The operation a request names, for records and fault rules before it is parsed: ``operationName``, or
    the first named operation in the text (clients send ``operationName: ""``); ``None`` for a bad body."""
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    name, query = payload.get("operationName"), payload.get("query")
    if isinstance(name, str) and name:
        return name
    match = _OP_NAME.search(query) if isinstance(query, str) else None
    return match.group(2) if match else None


def _payload(body: bytes) -> tuple[str, dict[str, Any], str | None]:
    """(query, variables, operation name) from the JSON body, or a ``RequestError`` naming what is off."""
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise RequestError(f"the GraphQL request body is not JSON ({exc})", kind="bad_graphql") from None
    if not isinstance(payload, dict):
        got = "null" if payload is None else type(payload).__name__
        raise RequestError(
            f"the GraphQL request body must be a JSON object with a 'query' string, got {got}", kind="bad_graphql"
        )
    query = payload.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RequestError("the GraphQL request has no 'query' string", kind="bad_graphql")
    variables = payload.get("variables")
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        raise RequestError(
            f"'variables' must be a JSON object (or null), got {type(variables).__name__}", kind="bad_graphql"
        )
    name = payload.get("operationName")
    if name is not None and not isinstance(name, str):
        raise RequestError(f"'operationName' must be a string, got {type(name).__name__}", kind="bad_graphql")
    return query, variables, name or None


def read_request(body: bytes) -> GraphQLRequest:
    """Parse and validate the request in ``body`` against the schema."""
    query, variables, name = _payload(body)
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError as exc:
        raise RequestError(f"cannot parse the GraphQL request: {exc.message}", kind="bad_graphql") from None
    except RecursionError:
        raise RequestError("cannot parse the GraphQL request: it is nested too deeply", kind="bad_graphql") from None
    operation = get_operation_ast(document, name)
    if operation is None:
        wanted = f"an operation named {name!r}" if name else "exactly one operation (or an operationName)"
        raise RequestError(f"the GraphQL document does not define {wanted}", kind="bad_graphql")
    request = GraphQLRequest(query, document, operation, variables)
    errors = validate(schema(), document)
    if errors:
        raise _invalid(request, [e.message for e in errors])
    return request


def _invalid(request: GraphQLRequest, messages: list[str]) -> RequestError:
    label = request.name or "<anonymous>"
    roots = root_fields(request)
    root_type = "Mutation" if request.operation.operation.value == "mutation" else "Query"
    unknown_root = any(f"on type '{root_type}'" in m and m.startswith("Cannot query field") for m in messages)
    if unknown_root:
        return RequestError(
            f"unknown operation {label!r} (root fields {roots}); {NOT_IMPLEMENTED}",
            kind="unknown_operation",
            detail={"root_fields": roots, "query": request.query[:2000], "errors": messages},
        )
    return RequestError(
        f"operation {label!r} does not validate against the local W&B server's schema: {'; '.join(messages)} "
        f"({NOT_IMPLEMENTED})",
        kind="invalid_graphql",
        detail={"root_fields": roots, "query": request.query[:2000], "errors": messages},
    )


def root_fields(request: GraphQLRequest) -> list[str]:
    """Names (not aliases) of the operation's top-level fields, fragments expanded (each fragment once)."""
    fragments = {d.name.value: d for d in request.document.definitions if isinstance(d, FragmentDefinitionNode)}
    names: list[str] = []
    seen: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> None:
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                if sel.name.value not in names:
                    names.append(sel.name.value)
            elif isinstance(sel, InlineFragmentNode):
                walk(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value not in seen:
                seen.add(sel.name.value)
                frag = fragments.get(sel.name.value)
                if frag is not None:
                    walk(frag.selection_set)

    walk(request.operation.selection_set)
    return names


def answer(request: GraphQLRequest, root: dict[str, Any]) -> dict[str, Any]:
    """Execute the validated request on ``root`` (the node of the Query/Mutation fields): ``{"data": ...}``,
    with ``errors`` for resolvers that raised ``ResolverError``."""
    try:
        result = _execute(request, root)
    except RecursionError:
        raise RequestError("the GraphQL request is nested too deeply to answer", kind="bad_graphql") from None
    if not result.errors:
        return {"data": result.data}
    if result.data is None and all(not e.path for e in result.errors):
        # Nothing ran: the variables do not fit the operation's declarations.
        messages = [e.message for e in result.errors]
        raise RequestError(f"the GraphQL variables do not fit the operation: {'; '.join(messages)}", kind="bad_graphql")
    for error in result.errors:
        original = error.original_error
        if original is not None and not isinstance(original, ResolverError):
            raise original
    return {"data": result.data, "errors": [_formatted(e) for e in result.errors]}


def _execute(request: GraphQLRequest, root: dict[str, Any]) -> ExecutionResult:
    result = execute(
        schema(),
        request.document,
        root_value=root,
        variable_values=request.variables,
        operation_name=request.name,
        field_resolver=resolve_field,
    )
    assert not isinstance(result, Awaitable), "resolvers are synchronous"
    return result


def _formatted(error: GraphQLError) -> dict[str, Any]:
    return {"message": error.message, "path": list(error.path or [])}
