"""The rules ``verify`` and ``demo`` judge a run by: one table, run by one loop over a view built once.

Each :class:`Rule` reads the :class:`~.view.RunView` and returns ``(ok, detail)``, or ``None`` when it does not
apply to this evidence (e.g. writer sessions, which only the local server records). ``ok`` is ``None`` for an
informational line. docs/verify.md lists the same table with the reason for each rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .evidence import ArtifactInfo, RunEvidence
from .report import Check, Report
from .training_rows import BY_MARKERS
from .view import NO_EXPECTATIONS, Expectations, RunView, build_view

__all__ = ["RULES", "Rule", "check_run"]

#: Seconds around the run's lifetime in which a sibling run counts as "created at the same time".
SIBLING_WINDOW_S = 120.0

Verdict = tuple[bool | None, str]


@dataclass(frozen=True)
class Rule:
    name: str
    judge: Callable[[RunView], Verdict | None]
    why: str
    #: skipped when the run was not found (only "one run" speaks then)
    needs_run: bool = True


def check_run(evidence: RunEvidence, expect: Expectations = NO_EXPECTATIONS) -> Report:
    """Judge the evidence: one :class:`Check` per applicable rule, in table order."""
    view = build_view(evidence, expect)
    checks = []
    for rule in RULES:
        if rule.needs_run and not evidence.found:
            continue
        verdict = rule.judge(view)
        if verdict is not None:
            checks.append(Check(rule.name, *verdict))
    return Report(evidence, tuple(checks), view)


# ------------------------------------------------------------------------------------------------ rules
def _runs_created(view: RunView) -> Verdict | None:
    count = view.evidence.runs_on_backend
    if count is None:
        return None
    return count == 1, f"{count} run(s) created on the backend while this run was live (must be 1)"


def _one_run(view: RunView) -> Verdict:
    ev = view.evidence
    if not ev.found:
        return False, ev.error or f"no run {ev.path} on {ev.source}"
    if ev.created_count is None:
        return True, f"{ev.path} exists"
    return (
        ev.created_count == 1,
        f"{ev.path}: created {ev.created_count}x (must be 1), resumed {ev.resumed_count or 0}x",
    )


def _state(view: RunView) -> Verdict:
    state, failure = view.evidence.state, view.evidence.failure
    ok = state == "finished"
    detail = f"{state!r}" + ("" if ok else " (must be 'finished': the run did not end cleanly or is still open)")
    if failure is not None:
        detail += f"; the session recorded a failure: {failure}"
    return ok, detail


def _pre_phase(view: RunView) -> Verdict:
    keys, arts = view.evidence.user_config_keys, view.phases["pre"]
    if not keys and not arts:
        return False, "run config is empty and no artifact was logged before training"
    shown = ", ".join(keys[:6]) + (", ..." if len(keys) > 6 else "")
    config = f"config keys [{shown}]" if keys else "config empty"
    return True, f"{config}; " + (f"artifacts {_names(arts)}" if arts else "no artifact before training")


def _training(view: RunView) -> Verdict:
    if not view.training.rows:
        if view.training.source == BY_MARKERS:
            return False, "no history row logged during the training phase (between its start and end markers)"
        return False, (
            "no training rows in history: the run has no phase markers (not written through the bridge) and no "
            "row with train/*, metrics/*, val/*, lr/*"
        )
    wanted = set(range(1, (view.wanted_epochs or 0) + 1))
    missing = sorted(wanted - set(view.epochs))
    detail = f"{len(wanted & set(view.epochs))} of {view.wanted_epochs} epochs logged"
    if missing:
        detail += f" (missing epoch{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))})"
    return not missing, f"{detail}; training rows found by {view.training.source}"


def _post_phase(view: RunView) -> Verdict:
    unfinished = [span for span in view.spans("training") if span.end is None]
    if unfinished:
        return False, (
            f"{unfinished[0].label} started but never ended: the run was never resumed after training "
            "(the training process lost it, or the session did not get it back)"
        )
    arts = view.phases["post"]
    if view.spans("post"):
        logged = f"artifacts {_names(arts)}" if arts else "nothing logged there (fine)"
        return True, f"post-training phase recorded; {logged}"
    if arts:
        return True, f"artifacts {_names(arts)}"
    return True, "not resumed after training (optional)"


def _artifacts(view: RunView) -> Verdict | None:
    expected = view.expect.artifacts
    if not expected:
        return None
    present = {a.name for a in view.evidence.artifacts}
    missing = [n for n in expected if n not in present]
    if missing:
        return False, f"missing {', '.join(missing)} (logged: {', '.join(sorted(present)) or 'none'})"
    return True, f"all expected present: {', '.join(expected)}"


def _secrets(view: RunView) -> Verdict:
    from ...artifacts.redact import REDACTED, is_secret_key

    secrets = view.expect.secrets
    leaks: list[str] = []
    redacted: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                here = f"{where}.{key}" if where else str(key)
                if is_secret_key(key) and isinstance(value, str) and value:
                    (redacted if value == REDACTED else leaks).append(here)
                else:
                    walk(value, here)
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")
        elif isinstance(node, str) and any(secret and secret in node for secret in secrets):
            leaks.append(where)

    walk(view.evidence.config, "")
    if leaks:
        return False, "secret value stored in the run config at " + ", ".join(leaks)
    if redacted:
        return True, "redacted: " + ", ".join(redacted)
    return True, "no secret-named config keys"


def _siblings(view: RunView) -> Verdict:
    ev = view.evidence
    if ev.siblings is None:
        return None, f"not checked: {ev.siblings_error or 'backend cannot list runs'}"
    first, last = view.marker_window
    start = ev.created if ev.created is not None else first
    ends = [t for t in (last, view.last_epoch_time) if t is not None]
    end = max(ends) if ends else start
    suspects = []
    for sib in ev.siblings:
        by_name = bool(ev.name) and sib.name == ev.name
        if not (by_name or (ev.group and sib.group == ev.group)):
            continue
        if (
            sib.created is not None
            and start is not None
            and end is not None
            and not start - SIBLING_WINDOW_S <= sib.created <= end + SIBLING_WINDOW_S
        ):
            continue  # created at another time: an earlier or later job, not this one's twin
        suspects.append(f"{sib.id} (same {'name' if by_name else 'group'}, created {_clock(sib.created)})")
    if suspects:
        return False, (
            f"{len(suspects)} other run(s) in the project from the same time window: "
            + "; ".join(suspects)
            + " -- the 'multiple runs' symptom"
        )
    return True, f"none with the same name/group among {len(ev.siblings)} other run(s)"


def _writers(view: RunView) -> Verdict | None:
    sessions = view.evidence.sessions
    if sessions is None:
        return None
    if not sessions:
        return False, "the server recorded no writer session"
    problems = []
    if any(s.overlapping for s in sessions):
        problems.append("two writer sessions overlapped in time")
    open_ = [s.index for s in sessions if not s.complete]
    if open_:
        problems.append(f"session(s) {open_} never completed")
    if sessions[-1].exit_code not in (0, None):
        problems.append(f"last session exit code {sessions[-1].exit_code}")
    return not problems, "; ".join(problems) if problems else f"{len(sessions)} session(s), one after another"


def _names(arts: Sequence[ArtifactInfo]) -> str:
    return "[" + ", ".join(f"{a.name} ({a.type})" for a in arts) + "]"


def _clock(t: float | None) -> str:
    return "at an unknown time" if t is None else datetime.fromtimestamp(t).strftime("%H:%M:%S")


RULES: tuple[Rule, ...] = (
    Rule(
        "runs created",
        _runs_created,
        "no second run was created while this one was live (local server: it counts every run it saw created)",
    ),
    Rule("one run", _one_run, "the run exists and was created once; resumes are fine", needs_run=False),
    Rule("state", _state, "the run ended cleanly ('finished'), with the session's failure reason if any"),
    Rule("pre phase", _pre_phase, "pre-training shows the user's config or artifacts"),
    Rule("training", _training, "every epoch has a row the training phase logged (no row dropped by a step clash)"),
    Rule("post phase", _post_phase, "every training phase ended; resuming after training is optional"),
    Rule("artifacts", _artifacts, "every artifact the caller expects was logged"),
    Rule("secrets", _secrets, "no secret value is stored in the run config"),
    Rule("sibling runs", _siblings, "no other run with the same name/group from the same time"),
    Rule("writers", _writers, "writer sessions never overlapped, all completed, the last exited 0"),
)
