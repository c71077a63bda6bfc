"""The local server's GraphQL schema: ``schema.graphql`` (shipped in the package) built once with graphql-core.

The SDL is the document of what this server implements; every request is validated against it before any
resolver runs. Resolvers are plain data: a node is a dict whose values are data or callables that take the
field's arguments (``resolve_field`` calls them), so the object graph in ``nodes`` needs no schema classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from graphql import GraphQLResolveInfo, GraphQLSchema, build_schema

__all__ = ["SDL_RESOURCE", "resolve_field", "schema", "sdl"]

SDL_RESOURCE = "schema.graphql"


def sdl() -> str:
    """The schema's text, read from the installed package (also from a wheel or zip)."""
    return resources.files(__package__).joinpath(SDL_RESOURCE).read_text(encoding="utf-8")


@cache
def schema() -> GraphQLSchema:
    """The schema, built once per process (building it validates the SDL itself)."""
    return build_schema(sdl())


def resolve_field(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:  # type: ignore[type-arg]
    """A node's field: the dict entry named like the field, called with the field's arguments when callable."""
    value = source.get(info.field_name) if isinstance(source, Mapping) else None
    return value(args) if callable(value) else value
