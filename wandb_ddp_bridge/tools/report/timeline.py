"""The phase timeline: each writer session as a bar on one time axis, labelled with the phase it held.

Where the backend records writer sessions (the local W&B server) a bar is a session: its phase from the
markers the session wrote (``RunView.stages_in_window``), its exit code, and the process that held it as the
server saw it (pid; global rank from the launcher's variables in that process's environment). Elsewhere the
bars are the phase spans the markers record, and the page says that exit codes and processes are unknown.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ...errors import ConfigError
from ...ranks import detect_world
from ..verify.evidence import ProcessInfo, SessionInfo, WriterInfo
from ..verify.view import RunView, Stage
from .html import attrs, esc

__all__ = ["Bar", "bars", "holder_of", "render_timeline"]

_NAMES = {"pre": "PRE", "training": "training", "post": "POST"}
#: The variables whose presence says "this process is part of a launched job" (the rest are read by ranks).
_RANK_HINTS = ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK")


@dataclass(frozen=True)
class Bar:
    index: int
    phase: str  # pre | training | post | all | unknown
    label: str  # PRE, training, training (attempt 2), POST, ...
    start: float | None
    end: float | None  # None: still open (or never closed)
    exit_code: int | None
    how: str  # created / resumed (must) / phase span from the markers
    holder: str | None = None  # "pid 123 · global rank 0 of 2"
    holder_detail: str | None = None  # the command line and where the rank came from
    rank: int | None = None
    overlapping: bool = False


def _label(spans: Sequence[Stage], trainings: int) -> tuple[str, str]:
    kinds = {span.stage for span in spans}
    if "pre" in kinds and "post" in kinds:
        return "all", "PRE · training · POST (one writer: in-process fast path)"
    if not spans:
        return "unknown", "phase unknown"
    span = spans[0]
    label = _NAMES[span.stage]
    if span.stage == "training" and trainings > 1:
        label = f"training (attempt {span.handoff})"
    elif span.stage == "post" and trainings > 1:
        label = f"POST (after attempt {span.handoff})"
    return span.stage, label


def _short(command: str) -> str:
    """The program in a few words (``python -m wandb_ddp_bridge demo``, ``python -u _temp_123.py``): paths by
    their base names, and nothing past an argument that is data (JSON, long values)."""
    try:
        argv = shlex.split(command)
    except ValueError:
        argv = command.split()
    shown: list[str] = []
    for arg in argv:
        if (len(arg) > 40 and "/" not in arg) or any(c in arg for c in "{}[]= "):
            shown.append("…")
            break
        shown.append(os.path.basename(arg) if "/" in arg and not arg.startswith("-") else arg)
        if len(shown) >= 6:
            if len(argv) > 6:
                shown.append("…")
            break
    return " ".join(shown)


def holder_of(process: ProcessInfo | None, writer: WriterInfo | None) -> tuple[str | None, str | None, int | None]:
    """(label, detail, global rank) of whoever held a writer session, saying only what was observed."""
    if process is not None:
        env = dict(process.env)
        variables = " ".join(f"{k}={v}" for k, v in sorted(env.items()))
        via = f"; its connection came from {process.via} (pid {process.via_pid})" if process.via else ""
        detail = f"{process.command}{via}"
        rank: int | None = None
        if any(name in env for name in _RANK_HINTS):
            try:
                world = detect_world(env)
            except ConfigError as exc:
                return f"pid {process.pid} · rank unclear", f"{detail}; {exc}", None
            rank = world.rank
            label = f"pid {process.pid} · global rank {world.rank} of {world.world_size}"
            if world.local_rank != world.rank:
                label += f" (local rank {world.local_rank})"
            detail += f"; rank from its environment: {variables}"
        else:
            label = f"pid {process.pid} · not distributed"
            detail += "; no launcher rank variable in its environment"
        return f"{label} · {_short(process.command)}", detail, rank
    if writer is not None and (writer.program or writer.host):
        program = os.path.basename(writer.program) if writer.program else "?"
        label = f"{program} on {writer.host or '?'} (process and rank not recorded)"
        return label, "as the writer described itself in the run config (wandb's _wandb.e)", None
    return None, None, None


def bars(view: RunView) -> list[Bar]:
    ev = view.evidence
    trainings = len(view.spans("training"))
    if ev.sessions is not None:
        out = []
        for s in ev.sessions:
            phase, label = _label(view.stages_in_window(s.started, s.ended), trainings)
            holder, detail, rank = holder_of(s.process, ev.writers.get(s.writer_id or ""))
            out.append(
                Bar(
                    index=s.index,
                    phase=phase,
                    label=label,
                    start=s.started,
                    end=s.ended,
                    exit_code=s.exit_code,
                    how=_how(s),
                    holder=holder,
                    holder_detail=detail,
                    rank=rank,
                    overlapping=s.overlapping,
                )
            )
        return out
    return [
        Bar(
            index=i,
            phase=span.stage,
            label=_label([span], trainings)[1],
            start=span.start,
            end=span.end,
            exit_code=None,
            how="phase span from the markers",
        )
        for i, span in enumerate(view.stages)
    ]


def _how(s: SessionInfo) -> str:
    return "created the run" if s.index == 0 else f"resumed it (resume {s.resume_mode})"


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%H:%M:%S")


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def render_timeline(view: RunView) -> str:
    rows = bars(view)
    from_sessions = view.evidence.sessions is not None
    if not rows:
        return (
            '<section id="timeline"><h2>Phase timeline</h2><p class="note">No writer session and no phase '
            "marker recorded: this run was not written through wandb-ddp-bridge, or nothing reached the "
            "backend.</p></section>"
        )
    times = [t for b in rows for t in (b.start, b.end) if t is not None]
    t0, t1 = min(times), max(times)
    span = (t1 - t0) or 1.0
    parts = [
        '<section id="timeline"><h2>Phase timeline</h2>',
        '<p class="note">'
        + (
            "Each bar is one writer session: the time one process held the run, from the request that "
            "opened it to its final upload. Who held it is what this local server saw: the process behind "
            "the connection (wandb's service and the program that started it) and the launcher's rank "
            "variables in its environment."
            if from_sessions
            else "This backend does not record writer sessions: each bar is a phase span from the markers "
            "the session wrote into the run summary. Exit codes and processes are known only to the local "
            "W&amp;B server."
        )
        + "</p>",
        f'<div class="timeline"{attrs(data_source="sessions" if from_sessions else "markers")}>',
    ]
    for b in rows:
        start = b.start if b.start is not None else t0
        end = b.end if b.end is not None else t1
        left = (start - t0) / span * 100
        width = max((end - start) / span * 100, 0.8)
        left = min(left, 100 - width)
        if b.exit_code is None:
            exit_text, exit_class = ("open" if from_sessions and b.end is None else "exit ?"), "unknown"
        else:
            exit_text, exit_class = f"exit {b.exit_code}", "ok" if b.exit_code == 0 else "bad"
        if not from_sessions:
            exit_text = "exit code not recorded"
        when = f"{_clock(start)} → {_clock(end) if b.end is not None else '…'} ({_duration(end - start)})"
        holder = (
            f'<span class="holder"{attrs(title=b.holder_detail)}>{esc(b.holder)}</span>'
            if b.holder
            else ('<span class="holder unknown">process not recorded</span>' if from_sessions else "")
        )
        parts.append(
            f'<div class="tl-row"{attrs(data_phase=b.phase, data_exit=b.exit_code, data_rank=b.rank)}>'
            f'<div class="tl-label"><span class="phase-name">{esc(b.label)}</span> '
            f'<span class="exit {exit_class}">{esc(exit_text)}</span>'
            + ('<span class="exit bad">overlapping</span>' if b.overlapping else "")
            + f'<span class="how">#{b.index} {esc(b.how)} · {esc(when)}</span>{holder}</div>'
            f'<div class="tl-track"><div class="tl-bar {esc(b.phase)}" style="left:{left:.2f}%;width:{width:.2f}%"'
            f"{attrs(title=f'{b.label}: {when}')}></div></div></div>"
        )
    ticks = 4
    parts.append('<div class="tl-row tl-axis-row"><div class="tl-label"></div><div class="tl-axis">')
    for i in range(ticks + 1):
        text = _clock(t0) if i == 0 else f"+{_duration(span * i / ticks)}"
        parts.append(f'<span style="left:{i * 100 / ticks:.0f}%">{esc(text)}</span>')
    parts.append("</div></div></div></section>")
    return "".join(parts)
