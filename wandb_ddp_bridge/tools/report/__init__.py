"""The run page: the one run and its phases at a glance, rendered from the evidence ``verify`` collects.

One renderer, two sources: :func:`render_page` turns a :class:`~..verify.Report` into a self-contained HTML
page (``wandb-ddp-bridge verify RUN --html FILE``, any backend), and :func:`server_pages` serves the same page
live from the local W&B server (injected by ``serve`` and ``demo``; the server itself renders nothing).
Server-side SVG, inline CSS from package data, no script: see docs/design.md.
"""

from __future__ import annotations

from .page import render_page
from .routes import run_page_path, server_pages

__all__ = ["render_page", "run_page_path", "server_pages"]
