"""Framework integrations. Each submodule imports its framework only when used."""

from __future__ import annotations

__all__: list[str] = []
