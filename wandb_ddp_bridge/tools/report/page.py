"""The run page: one HTML document rendered from a :class:`~..verify.Report` (evidence, view, checks).

Self-contained: the stylesheet is inlined from package data, charts are SVG drawn here, images are inlined as
``data:`` URIs when the evidence carries their bytes (``verify --html``) or linked from the serving origin
(the local server's live page). No script: the page declares a Content-Security-Policy without any.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from ...artifacts.redact import REDACTED, is_secret_key
from ..verify.evidence import ArtifactInfo, MediaInfo
from ..verify.report import Report
from ..verify.view import PHASE_BUCKETS
from .charts import MAX_DRAWN, chart_svg, epoch_series, families, fmt
from .html import CSP, attrs, esc, join
from .timeline import render_timeline

__all__ = ["MAX_CONFIG_ROWS", "MediaLink", "document", "render_page"]

#: Config rows shown at most (the rest is counted, not shown).
MAX_CONFIG_ROWS = 500
_MAX_VALUE = 300
#: Config groups up to this many keys start unfolded.
_OPEN_GROUP = 30
_PHASE_TITLES = {
    "pre": "PRE (pre-training)",
    "training": "training",
    "post": "POST (post-training)",
    "unknown": "phase unknown",
}
_IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}

#: Where the page finds an image it does not carry inline (``None``: nowhere).
MediaLink = Callable[[MediaInfo], "str | None"]


@cache
def _css() -> str:
    return resources.files(__package__).joinpath("static/page.css").read_text(encoding="utf-8")


def _version() -> str:
    from ... import __version__

    return str(__version__)


def document(title: str, body: str) -> str:
    """A complete page around ``body``: doctype, CSP, viewport, the inlined stylesheet."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy"{attrs(content=CSP)}>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,">'
        f"<title>{esc(title)}</title><style>{_css()}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def render_page(report: Report, *, media_link: MediaLink | None = None, now: float | None = None) -> str:
    """The whole run page as one HTML string."""
    ev = report.evidence
    title = f"{ev.name or ev.path} · wandb-ddp-bridge run page"
    generated = datetime.fromtimestamp(now if now is not None else time.time()).strftime("%Y-%m-%d %H:%M:%S")
    body = join(
        [
            _header(report),
            render_timeline(report.view),
            _checks(report),
            _charts(report),
            _images(report, media_link),
            _artifacts(report),
            _config(report),
            f"<footer>Generated {esc(generated)} by wandb-ddp-bridge {esc(_version())} from "
            f"{esc(ev.source)}. A read-only page: nothing on it changes the run.</footer>",
        ]
    )
    return document(title, body)


# ------------------------------------------------------------------------------------------------ header
def _times(count: int, once: str, word: str) -> str:
    return once if count == 1 else f"{word} {count} times"


def _lifecycle(report: Report) -> str:
    ev = report.evidence
    if ev.created_count is None or ev.resumed_count is None:
        return "created / resumed: not reported by this backend (the local W&B server records both)"
    created = "created once" if ev.created_count == 1 else f"created {ev.created_count} times"
    resumed = "never resumed" if ev.resumed_count == 0 else _times(ev.resumed_count, "resumed once", "resumed")
    return f"{created} / {resumed}"


def _safe_url(url: str | None) -> str | None:
    if not url:
        return None
    return url if urllib.parse.urlsplit(url).scheme in ("http", "https") else None


def _header(report: Report) -> str:
    ev = report.evidence
    state = ev.state or ("not found" if not ev.found else "unknown")
    state_class = "ok" if state == "finished" else "bad" if state in ("failed", "crashed", "not found") else ""
    verdict = "PASSED" if report.passed else "FAILED"
    facts = [
        ("run", f"<code>{esc(ev.path)}</code>"),
        ("state", f'<span class="badge {state_class}" id="run-state">{esc(state)}</span>'),
        ("lifecycle", f'<span id="lifecycle">{esc(_lifecycle(report))}</span>'),
        ("backend", esc(ev.source)),
    ]
    if ev.group:
        facts.append(("group", esc(ev.group)))
    if ev.created is not None:
        facts.append(("started", esc(datetime.fromtimestamp(ev.created).strftime("%Y-%m-%d %H:%M:%S"))))
    url = _safe_url(ev.url)
    if url:
        facts.append(("url", f"<a{attrs(href=url)}>{esc(url)}</a>"))
    failure = ev.failure or ev.error
    items = join(f"<li><b>{esc(name)}</b>{value}</li>" for name, value in facts)
    return (
        '<header class="run">'
        f'<h1 id="run-name">{esc(ev.name or ev.path)}</h1>'
        f'<div class="path">{esc(ev.path)} <span class="badge {"ok" if report.passed else "bad"}" '
        f'id="verdict">verification {verdict}</span></div>'
        f'<ul class="facts">{items}</ul>' + (f'<p class="note bad">{esc(failure)}</p>' if failure else "") + "</header>"
    )


# ------------------------------------------------------------------------------------------------ checks
def _checks(report: Report) -> str:
    mark = {True: ("PASS", "ok"), False: ("FAIL", "bad"), None: ("info", "info")}
    rows = join(
        f'<tr class="check {mark[c.ok][1]}"{attrs(data_check=c.name)}><td class="mark">{mark[c.ok][0]}</td>'
        f"<td>{esc(c.name)}</td><td>{esc(c.detail)}</td></tr>"
        for c in report.checks
    )
    failed = sum(1 for c in report.checks if c.ok is False)
    verdict = "PASSED" if report.passed else f"FAILED ({failed} check{'s' if failed != 1 else ''} failed)"
    return (
        '<section id="checks"><h2>Verification</h2><p class="note">The checks of '
        "<code>wandb-ddp-bridge verify</code>, on the same evidence as this page.</p>"
        f'<div class="scroll"><table><thead><tr><th></th><th>check</th><th>detail</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
        f'<p class="verdict {"ok" if report.passed else "bad"}">verification {esc(verdict)}</p></section>'
    )


# ------------------------------------------------------------------------------------------------ charts
def _charts(report: Report) -> str:
    series = epoch_series(report.view.training)
    if not series:
        return (
            '<section id="charts"><h2>Training metrics per epoch</h2><p class="empty">The training phase logged '
            "no metric to chart (no numeric key at two epochs or more) in the run's history.</p></section>"
        )
    parts = ['<section id="charts"><h2>Training metrics per epoch</h2>']
    longest = max(len(s.points) for s in series)
    if longest > MAX_DRAWN:
        parts.append(
            f'<p class="note" id="downsampled">Long series are downsampled for display: {longest:,} epochs are '
            f"drawn as at most {MAX_DRAWN} points per chart (largest-triangle-three-buckets, which keeps peaks "
            "and dips), as W&amp;B does for long runs. The logged values are unchanged.</p>"
        )
    for family, title, members in families(series):
        parts.append(f'<h3>{esc(title)}</h3><div class="charts"{attrs(data_family=family)}>')
        for s in members:
            x, y = s.points[-1]
            parts.append(
                f'<figure class="chart"{attrs(data_metric=s.key, data_points=len(s.points))}>'
                f'<figcaption><span class="key">{esc(s.key)}</span>'
                f'<span class="last">epoch {esc(fmt(x))}: {esc(fmt(y))}</span></figcaption>'
                f"{chart_svg(s)}</figure>"
            )
        parts.append("</div>")
    parts.append("</section>")
    return join(parts)


# ------------------------------------------------------------------------------------------------ images
def _image_src(item: MediaInfo, media_link: MediaLink | None) -> str | None:
    if item.data is not None:
        kind = _IMAGE_TYPES.get((item.format or item.path.rsplit(".", 1)[-1]).lower(), "image/png")
        return f"data:{kind};base64,{base64.b64encode(item.data).decode()}"
    return media_link(item) if media_link is not None else None


def _images(report: Report, media_link: MediaLink | None) -> str:
    media = report.evidence.media
    if not media:
        return ""
    parts = [
        '<section id="images"><h2>Images</h2><p class="note">The newest version of each image the run '
        'logged (Ultralytics: results, confusion matrices, curves, batches).</p><div class="images">'
    ]
    for item in media:
        src = _image_src(item, media_link)
        when = f" · epoch {item.epoch}" if item.epoch is not None else f" · step {item.step}" if item.step else ""
        picture = (
            f"<img{attrs(src=src, alt=item.key, width=item.width, height=item.height)}>"
            if src
            else '<p class="empty">image not collected</p>'
        )
        parts.append(
            f"<figure{attrs(data_media=item.key)}>{picture}<figcaption>{esc(item.key)}{esc(when)}</figcaption></figure>"
        )
    parts.append("</div></section>")
    return join(parts)


# ------------------------------------------------------------------------------------------------ artifacts
def _size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _artifact_row(a: ArtifactInfo) -> str:
    version = f":{a.version}" if a.version else ""
    aliases = ", ".join(a.aliases) or "-"
    return (
        f"<tr{attrs(data_artifact=a.name)}><td><code>{esc(a.name)}{esc(version)}</code></td><td>{esc(a.type)}</td>"
        f'<td class="num">{esc(_size(a.size))}</td><td>{esc(aliases)}</td></tr>'
    )


def _artifacts(report: Report) -> str:
    parts = [
        '<section id="artifacts"><h2>Artifacts by phase</h2><p class="note">Placed by the writer session '
        "that logged them (local server), else by their creation time against the phase markers, else by "
        "type.</p>"
    ]
    for phase in PHASE_BUCKETS:
        arts = report.phases.get(phase, ())
        if phase == "unknown" and not arts:
            continue
        parts.append(f'<div class="phase-artifacts"{attrs(data_phase=phase)}><h3>{esc(_PHASE_TITLES[phase])}</h3>')
        if arts:
            parts.append(
                '<div class="scroll"><table><thead><tr><th>artifact</th><th>type</th><th>size</th><th>aliases</th>'
                f"</tr></thead><tbody>{join(_artifact_row(a) for a in arts)}</tbody></table></div>"
            )
        else:
            parts.append('<p class="empty">nothing logged in this phase</p>')
        parts.append("</div>")
    parts.append("</section>")
    return join(parts)


# ------------------------------------------------------------------------------------------------ config
def _flatten(node: Any, prefix: str = "") -> Iterator[tuple[str, Any, bool]]:
    """(dotted key, value, is secret) for every leaf; secret-named keys are not descended into."""
    if isinstance(node, Mapping) and node:
        for key, value in node.items():
            here = f"{prefix}.{key}" if prefix else str(key)
            if is_secret_key(key) and value not in (None, "", REDACTED):
                yield here, REDACTED, True
            else:
                yield from _flatten(value, here)
    else:
        yield prefix, node, False


def _shown(value: Any, secrets: tuple[str, ...]) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _config(report: Report) -> str:
    config = {k: v for k, v in report.evidence.config.items() if not str(k).startswith("_")}
    secrets = report.view.expect.secrets
    parts = [
        '<section id="config"><h2>Config</h2><p class="note">The run config, one group per top-level key; values '
        f"under secret-named keys (api_key, token, password, ...) are shown as <code>{esc(REDACTED)}</code> "
        "whatever the run stored.</p>"
    ]
    groups: dict[str, list[tuple[str, Any, bool]]] = {}
    for key, value, secret in _flatten(config):
        top = key.split(".", 1)[0]
        nested = isinstance(config.get(top), Mapping) and bool(config.get(top))
        groups.setdefault(top if nested else "", []).append((key, value, secret))
    if not groups:
        parts.append('<p class="empty">empty</p></section>')
        return join(parts)
    shown = 0
    for name, rows in groups.items():
        body = join(
            f"<tr{attrs(class_='secret' if secret else None)}><td><code>{esc(key)}</code></td>"
            f"<td><code>{esc(_shown(value, secrets))}</code></td></tr>"
            for key, value, secret in rows[: max(MAX_CONFIG_ROWS - shown, 0)]
        )
        shown += len(rows)
        parts.append(
            f"<details{attrs(open=len(rows) <= _OPEN_GROUP, data_group=name)}>"
            f"<summary><code>{esc(name or '(top level)')}</code> "
            f"({len(rows)} key{'s' if len(rows) != 1 else ''})</summary>"
            '<div class="scroll"><table><thead><tr><th>key</th><th>value</th></tr></thead>'
            f"<tbody>{body}</tbody></table></div></details>"
        )
    if shown > MAX_CONFIG_ROWS:
        parts.append(f'<p class="note">{shown - MAX_CONFIG_ROWS} more keys not shown.</p>')
    parts.append("</section>")
    return join(parts)
