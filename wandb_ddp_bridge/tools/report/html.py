"""The one escaping function every value from a run goes through, and the few tag helpers built on it.

Everything a run carries (its name, config keys and values, metric keys, artifact names, process command
lines) is text to the page, never markup: it reaches the HTML only through :func:`esc`. The page also
declares a Content-Security-Policy that allows no script at all, so a missed escape still could not run one.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

__all__ = ["CSP", "attrs", "esc", "join"]

#: No script, no network: styles and images are inline (``data:``) or from the page's own origin.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'"


def esc(value: object) -> str:
    """``value`` as HTML/SVG text or attribute content (``& < > " '`` escaped)."""
    return html.escape(str(value), quote=True)


def attrs(**values: object) -> str:
    """`` name="value"`` pairs, escaped; ``None`` and ``False`` are left out, ``True`` is a bare name.
    A trailing underscore is dropped (``class_``) and other underscores become dashes (``data_metric``)."""
    parts = []
    for name, value in values.items():
        if value is None or value is False:
            continue
        key = name.rstrip("_").replace("_", "-")
        parts.append(f" {key}" if value is True else f' {key}="{esc(value)}"')
    return "".join(parts)


def join(parts: Iterable[str]) -> str:
    return "".join(parts)
