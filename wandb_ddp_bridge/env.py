"""The handoff descriptor: plain ids in environment variables, so a child process can re-attach.

A live ``wandb`` run cannot cross ``exec``; its id, project and entity can. The handoff writes them into the
real ``os.environ`` (Ultralytics' DDP launcher copies the parent's environment into its workers) together
with one versioned JSON variable of the bridge, and puts every touched variable back exactly as it was —
values and absence — when training is over.

``WANDB_SERVICE`` (the address of the parent's ``wandb-core``) is removed for the duration: children start
their own service, so a child never depends on the parent's service process and two processes never feed
one run through one service stream.

:data:`MANAGED_VARIABLES` are the bridge's (and wandb's own ``WANDB_SERVICE``): every one of them is exactly as
before when a session ends. Any other ``WANDB_*`` variable belongs to the user and is left as the user left it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from .config import BridgeConfig
from .errors import AttachError

__all__ = [
    "DESCRIPTOR_VERSION",
    "HANDOFF_ENV_VAR",
    "MANAGED_VARIABLES",
    "RUN_SELECTING_VARIABLES",
    "EnvSnapshot",
    "Exported",
    "HandoffDescriptor",
    "exported",
    "hidden",
    "read_descriptor",
    "unclaimed_run_variables",
]

HANDOFF_ENV_VAR = "WANDB_DDP_BRIDGE_HANDOFF"
DESCRIPTOR_VERSION = 1
#: Variables the bridge (or wandb itself: ``WANDB_SERVICE``) may set or remove; a session puts each one back
#: exactly as it was. Anything else in the environment is left alone.
MANAGED_VARIABLES = (
    HANDOFF_ENV_VAR,
    "WANDB_RUN_ID",
    "WANDB_PROJECT",
    "WANDB_ENTITY",
    "WANDB_RESUME",
    "WANDB_BASE_URL",
    "WANDB_MODE",
    "WANDB_API_KEY",
    "WANDB_DIR",
    "WANDB_SERVICE",
)
#: What decides which run ``wandb.init`` opens when no id is passed; only the bridge's own export counts.
RUN_SELECTING_VARIABLES = ("WANDB_RUN_ID", "WANDB_RESUME")


@dataclass(frozen=True)
class HandoffDescriptor:
    """What a child needs to find the handed-off run again. Contains no secret."""

    run_id: str
    project: str
    entity: str | None
    base_url: str | None
    mode: str
    dir: str | None = None
    devices: tuple[int, ...] | str | None = None
    init_timeout: float = 90.0
    #: True while the parent keeps the run open itself (in-process fast path): a child must not resume it.
    parent_holds_run: bool = False
    #: The checkpoint settings (``BridgeConfig.checkpoints`` and co.): the process that logs the training (the
    #: DDP rank-0 worker included) uploads ``last.pt`` and restores it; ``checkpoint_grace`` is the preemption
    #: grace an upload may still use after a stop signal.
    checkpoints: str | None = None
    checkpoint_every: int = 1
    checkpoint_keep: int = 2
    checkpoint_grace: float = 10.0
    version: int = DESCRIPTOR_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> HandoffDescriptor:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AttachError(f"${HANDOFF_ENV_VAR} is not valid JSON ({exc}); it was damaged in transit") from None
        if not isinstance(data, dict) or data.get("version") != DESCRIPTOR_VERSION:
            found = data.get("version") if isinstance(data, dict) else None
            raise AttachError(
                f"${HANDOFF_ENV_VAR} has descriptor version {found!r}, this wandb-ddp-bridge reads version "
                f"{DESCRIPTOR_VERSION}: parent and child use different bridge versions; install the same one"
            )
        devices = data.get("devices")
        if isinstance(devices, list):
            data["devices"] = tuple(devices)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def environ(self, config: BridgeConfig) -> dict[str, str | None]:
        """The variables to set (str) or remove (None) while the run is handed off."""
        values: dict[str, str | None] = {
            HANDOFF_ENV_VAR: self.to_json(),
            "WANDB_RUN_ID": self.run_id,
            "WANDB_PROJECT": self.project,
            # a child's own wandb.init() (a framework's native callback, say) resumes this run or fails: never
            # a second run under the same id in another project (docs/reliability.md)
            "WANDB_RESUME": "must",
            "WANDB_MODE": self.mode,
            "WANDB_SERVICE": None,
        }
        if self.entity:
            values["WANDB_ENTITY"] = self.entity
        if self.base_url:
            values["WANDB_BASE_URL"] = self.base_url
        if self.dir:
            values["WANDB_DIR"] = self.dir
        if config.api_key:
            values["WANDB_API_KEY"] = config.api_key
        return values


def read_descriptor(environ: Mapping[str, str] | None = None) -> HandoffDescriptor | None:
    """The descriptor exported by the enclosing handoff, or ``None`` outside one."""
    env = os.environ if environ is None else environ
    text = env.get(HANDOFF_ENV_VAR)
    return HandoffDescriptor.from_json(text) if text else None


def unclaimed_run_variables(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The :data:`RUN_SELECTING_VARIABLES` set in the environment that the bridge did not export.

    Left over from an earlier job or a hand-written recipe, they would make ``wandb.init`` adopt another job's
    run (``WANDB_RUN_ID``) or refuse to create one (``WANDB_RESUME=must``). Two are not stale: what a handoff
    exported (its descriptor names the same run), and a W&B sweep agent's assignment (``WANDB_SWEEP_ID`` set
    alongside ``WANDB_RUN_ID``)."""
    env = os.environ if environ is None else environ
    run_id, resume = env.get("WANDB_RUN_ID"), env.get("WANDB_RESUME")
    try:
        descriptor = read_descriptor(env)
    except AttachError:
        descriptor = None  # damaged: it vouches for nothing
    handed_off = descriptor is not None and descriptor.run_id == run_id
    unclaimed = []
    if run_id and not handed_off and not env.get("WANDB_SWEEP_ID"):
        unclaimed.append("WANDB_RUN_ID")
    if resume and not handed_off:
        unclaimed.append("WANDB_RESUME")
    return tuple(unclaimed)


@contextmanager
def hidden(names: tuple[str, ...]) -> Iterator[None]:
    """Remove ``names`` from ``os.environ`` for the block; put back exactly as they were afterwards."""
    before = EnvSnapshot.capture(names)
    try:
        for name in names:
            os.environ.pop(name, None)
        yield
    finally:
        before.restore()


@dataclass(frozen=True)
class EnvSnapshot:
    """Exact values (``None`` = absent) of some variables, to be put back later."""

    values: tuple[tuple[str, str | None], ...]

    @classmethod
    def capture(cls, names: tuple[str, ...], environ: Mapping[str, str] | None = None) -> EnvSnapshot:
        env = os.environ if environ is None else environ
        return cls(tuple((name, env.get(name)) for name in names))

    @classmethod
    def capture_prefix(cls, prefix: str, extra: tuple[str, ...] = ()) -> EnvSnapshot:
        """Every variable starting with ``prefix`` now, plus ``extra`` (absent ones remembered as absent)."""
        names = tuple(sorted({n for n in os.environ if n.startswith(prefix)} | set(extra)))
        return cls.capture(names)

    def restore(self, environ: MutableMapping[str, str] | None = None, *, prefix: str | None = None) -> None:
        """Put the captured values back; with ``prefix``, also drop variables with it that appeared since."""
        env = os.environ if environ is None else environ
        captured = dict(self.values)
        if prefix is not None:
            for name in [n for n in env if n.startswith(prefix) and n not in captured]:
                del env[name]
        for name, value in self.values:
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value


class Exported:
    """The variables applied by :func:`exported`, with their values before; more can be applied later."""

    def __init__(self, names: tuple[str, ...] = MANAGED_VARIABLES) -> None:
        self._before: dict[str, str | None] = {name: os.environ.get(name) for name in names}

    def apply(self, values: Mapping[str, str | None]) -> None:
        """Set (str) or remove (None) ``values`` in ``os.environ``; each is restored by :meth:`restore`."""
        for name in values:
            self._before.setdefault(name, os.environ.get(name))
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def restore(self) -> None:
        """Every touched variable back to its value (or absence) before; safe to repeat."""
        for name, value in self._before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def exported(values: Mapping[str, str | None]) -> Iterator[Exported]:
    """Apply ``values`` to ``os.environ`` for the block, then restore exactly, also on error.

    Every :data:`MANAGED_VARIABLES` is restored too (wandb may set ``WANDB_SERVICE`` meanwhile); the yielded
    :class:`Exported` applies more values under the same promise (the handoff's ``release()`` does).
    """
    export = Exported()
    try:
        export.apply(values)
        yield export
    finally:
        export.restore()
