"""Configs as users write them, and names W&B would refuse (issue 24, items 2 and 3), judged by what the local
server recorded: a config the bridge can use creates exactly one run; one it cannot is a ConfigError raised by
``wandb_session()`` itself, before any run exists."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from wandb_ddp_bridge import ConfigError, tracked_training, wandb_session
from wandb_ddp_bridge.compat import WandbManager

omegaconf = pytest.importorskip("omegaconf")
MISSING = omegaconf.MISSING


@dataclass
class WandbSection:
    project: str = "structured"
    entity: str = MISSING  # the usual Hydra pattern: given on the command line or by $WANDB_ENTITY
    api_key: str = "${oc.env:NO_SUCH_VARIABLE_I24}"  # resolvable only where that variable is set
    sweep_note: str = "${no.such.node}"  # a key of the application's, never read by the bridge


@dataclass
class AppConfig:
    wandb: WandbSection = field(default_factory=WandbSection)
    lr: float = MISSING  # the application's own mandatory value


def _with_session(cfg: Any) -> None:
    with wandb_session(cfg) as session:
        session.log({"pre/x": 1.0})


def _with_manager(cfg: Any) -> None:
    manager = WandbManager(cfg)
    manager.initialize()
    manager.finish()


def _with_decorator(cfg: Any) -> None:
    @tracked_training(cfg)
    def train() -> None:
        pass

    train()


ENTRY_POINTS: dict[str, Callable[[Any], None]] = {
    "wandb_session": _with_session,
    "WandbManager": _with_manager,
    "tracked_training": _with_decorator,
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_structured_config_with_missing_values_takes_the_entity_from_the_environment(
    wandb_server: Any, monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    monkeypatch.setenv("WANDB_ENTITY", wandb_server.entity)
    # the api_key interpolation cannot resolve here: $WANDB_API_KEY (the server's key) stands in for it
    ENTRY_POINTS[entry](omegaconf.OmegaConf.structured(AppConfig))
    (run,) = wandb_server.runs(project="structured")
    assert run.state == "finished"


def test_a_missing_project_falls_back_to_wandb_project(wandb_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_PROJECT", "from-env")
    cfg = omegaconf.OmegaConf.create({"wandb": {"project": "???", "unused": "${missing.node}"}, "lr": "???"})
    _with_session(cfg)
    assert [run.project for run in wandb_server.runs()] == ["from-env"]


def test_a_missing_value_with_nothing_to_stand_in_names_the_key_and_its_source(
    wandb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_ENTITY", raising=False)
    with pytest.raises(ConfigError, match=r"entity \(from cfg\.wandb\.entity\) is '\?\?\?'.*\$WANDB_ENTITY"):
        wandb_session(omegaconf.OmegaConf.structured(AppConfig))
    cfg = omegaconf.OmegaConf.create({"wandb": {"project": "p", "run_id": "${oc.env:NO_SUCH_VARIABLE_I24}"}})
    with pytest.raises(ConfigError, match=r"run_id \(from cfg\.wandb\.run_id\) cannot be resolved"):
        wandb_session(cfg)
    assert wandb_server.runs() == []


BAD_NAMES = {
    "project over 128 characters": {"project": "p" * 129, "on_backend_error": "offline"},
    "project with a slash": {"project": "team/project"},
    "entity with a colon": {"project": "names", "entity": "a:b"},
    "run id over 128 characters": {"project": "names", "run_id": "r" * 129},
    "run id with a comma": {"project": "names", "run_id": "a,b"},
    "name over 128 characters": {"project": "names", "name": "n" * 129},
    "group with a line break": {"project": "names", "group": "a\nb"},
    "job type over 64 characters": {"project": "names", "job_type": "j" * 65},
    "tag over 64 characters": {"project": "names", "tags": ["t" * 65]},
    "empty tag": {"project": "names", "tags": [""]},
}


@pytest.mark.parametrize("settings", BAD_NAMES.values(), ids=list(BAD_NAMES))
def test_a_name_w_and_b_would_refuse_is_a_config_error_before_any_run(
    wandb_server: Any, settings: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError):
        wandb_session(**settings)  # raised by the call itself, not at __enter__
    assert wandb_server.runs() == []


def test_names_at_w_and_b_limits_are_accepted(wandb_server: Any) -> None:
    with wandb_session(project="p" * 128, name="n" * 128, job_type="j" * 64, tags=["t" * 64, "x"]) as s:
        s.log({"pre/x": 1.0})
    (run,) = wandb_server.runs()
    assert (run.project, run.display_name, run.job_type, run.tags) == ("p" * 128, "n" * 128, "j" * 64, ["t" * 64, "x"])


NESTED_CHILD = textwrap.dedent(
    """
    import wandb_ddp_bridge as bridge
    try:
        with bridge.wandb_session(project="nested-child"):
            pass
    except bridge.PhaseError as error:
        print("PhaseError:", error)
    """
)


def test_a_session_opened_in_a_child_of_a_handoff_is_refused_with_the_way_to_attach(wandb_server: Any) -> None:
    with wandb_session(project="nested", fast_path="never") as s, s.handoff():
        done = subprocess.run([sys.executable, "-c", NESTED_CHILD], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("PhaseError:") and "attach()" in done.stdout
    assert [run.project for run in wandb_server.runs()] == ["nested"]  # the child created nothing
