"""The local W&B server's read-only pages: this module is the renderer ``serve`` and ``demo`` inject.

``/`` is an index of the server's runs; ``/<entity>/<project>/runs/<id>`` is the run page, built from the
server's own records (writer sessions and the processes behind them included) with the checks of ``verify``.
Images are linked from the server's ``/files/...`` downloads instead of inlined, to keep the page light.
"""

from __future__ import annotations

import urllib.parse
from datetime import datetime
from typing import TYPE_CHECKING

from ..verify import Expectations, check_run, from_server
from ..verify.evidence import MediaInfo
from .html import esc, join
from .page import document, render_page

if TYPE_CHECKING:
    from ...testing import LocalWandbServer, Page

__all__ = ["run_page_path", "server_pages"]


def run_page_path(path: str) -> str:
    """``/<entity>/<project>/runs/<id>`` for ``entity/project/id`` (each part percent-encoded)."""
    entity, project, run_id = path.split("/")
    return "/" + "/".join(urllib.parse.quote(p, safe="") for p in (entity, project, "runs", run_id))


def server_pages(server: LocalWandbServer, path: str) -> Page | None:
    """The page at ``path`` on ``server``, or ``None`` (the server answers 404)."""
    from ...testing import Page

    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/") if p]
    if not parts or parts == ["index.html"]:
        return Page(200, _index(server).encode())
    if len(parts) == 4 and parts[2] == "runs":
        entity, project, _, run_id = parts
        run_path = f"{entity}/{project}/{run_id}"
        evidence = from_server(run_path, server)
        if not evidence.found:
            body = (
                f"<section><h1>No run {esc(run_path)}</h1><p>{esc(evidence.error)}</p>"
                '<p><a href="/">All runs on this server</a></p></section>'
            )
            return Page(404, document(f"no run {run_path}", body).encode())
        # the server's own key must never show up in a run config: judge that too
        report = check_run(evidence, Expectations(secrets=(server.api_key,)))
        prefix = "/files/" + "/".join(urllib.parse.quote(p, safe="") for p in (entity, project, run_id))

        def media_link(item: MediaInfo) -> str:
            return prefix + "/" + urllib.parse.quote(item.path)

        nav = '<p class="note"><a href="/">← all runs on this server</a></p>'
        html = render_page(report, media_link=media_link).replace("<main>", "<main>" + nav, 1)
        return Page(200, html.encode())
    return None


def _index(server: LocalWandbServer) -> str:
    runs = sorted(server.listing(), key=lambda r: r.started or 0.0, reverse=True)
    rows = join(
        f'<tr><td><a href="{esc(run_page_path(r.path))}">{esc(r.display_name or r.id)}</a></td>'
        f"<td><code>{esc(r.path)}</code></td><td>{esc(r.state)}</td>"
        f'<td class="num">{r.sessions}</td><td class="num">{r.resumed_count}</td>'
        f"<td>{esc(_when(r.started))}</td></tr>"
        for r in runs
    )
    table = (
        '<div class="scroll"><table><thead><tr><th>run</th><th>path</th><th>state</th><th>writer sessions</th>'
        f"<th>resumes</th><th>started</th></tr></thead><tbody>{rows}</tbody></table></div>"
        if runs
        else '<p class="empty">No run yet. Point a wandb client at this server (WANDB_BASE_URL) and log one.</p>'
    )
    body = (
        f'<header class="run"><h1>Runs on this local W&amp;B server</h1><div class="path">{esc(server.url)}'
        f'</div></header><section id="runs"><h2>{len(runs)} run{"s" if len(runs) != 1 else ""}</h2>'
        f"{table}</section>"
    )
    return document("runs · local W&B server", body)


def _when(t: float | None) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t is not None else "?"
