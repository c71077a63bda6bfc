"""BridgeConfig from every input kind, env fallbacks, and an error for every bad input."""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import pytest

from wandb_ddp_bridge.config import BridgeConfig
from wandb_ddp_bridge.errors import ConfigError

SECRET = "0123456789abcdef0123456789abcdef01234567"


def test_from_keyword_arguments() -> None:
    cfg = BridgeConfig.resolve(project="p", entity="e", tags=["a", "b"], devices=[0, 1], mode="offline")
    assert (cfg.project, cfg.entity, cfg.tags, cfg.devices, cfg.mode) == ("p", "e", ("a", "b"), (0, 1), "offline")
    assert cfg.job_type == "training"


def test_from_plain_dict_and_nested_wandb_section() -> None:
    assert BridgeConfig.resolve({"project": "flat"}).project == "flat"
    nested = {"model": {"lr": 0.1}, "wandb": {"project": "nested", "api_key": SECRET, "enabled": True}}
    cfg = BridgeConfig.resolve(nested)
    assert cfg.project == "nested" and cfg.api_key == SECRET


def test_from_simple_namespace_like_the_seed() -> None:
    cfg = BridgeConfig.resolve(SimpleNamespace(wandb=SimpleNamespace(project="seed", api_key=SECRET)))
    assert cfg.project == "seed"


def test_from_dataclass_section() -> None:
    @dataclasses.dataclass
    class WandbSection:
        project: str = "dc"
        group: str = "g1"

    @dataclasses.dataclass
    class AppConfig:
        wandb: WandbSection = dataclasses.field(default_factory=WandbSection)

    cfg = BridgeConfig.resolve(AppConfig())
    assert (cfg.project, cfg.group) == ("dc", "g1")


def test_from_omegaconf_with_interpolation() -> None:
    omegaconf = pytest.importorskip("omegaconf")
    conf = omegaconf.OmegaConf.create(
        {"name": "exp7", "wandb": {"project": "oc", "name": "${name}", "tags": ["x", "y"], "devices": [0]}}
    )
    cfg = BridgeConfig.resolve(conf)
    assert (cfg.project, cfg.name, cfg.tags, cfg.devices) == ("oc", "exp7", ("x", "y"), (0,))


def test_keyword_overrides_win_over_cfg_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_PROJECT", "from-env")
    assert BridgeConfig.resolve({"wandb": {"project": "from-cfg"}}, project="kw").project == "kw"
    assert BridgeConfig.resolve({"wandb": {"project": "from-cfg"}}).project == "from-cfg"


def test_env_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_PROJECT", "envp")
    monkeypatch.setenv("WANDB_ENTITY", "enve")
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:8080/")
    cfg = BridgeConfig.resolve()
    assert (cfg.project, cfg.entity, cfg.api_key, cfg.mode, cfg.base_url) == (
        "envp",
        "enve",
        SECRET,
        "offline",
        "http://127.0.0.1:8080",
    )


def test_api_key_never_in_repr_or_errors() -> None:
    cfg = BridgeConfig.resolve(project="p", api_key=SECRET)
    assert SECRET not in repr(cfg) and SECRET not in str(cfg) and SECRET not in cfg.describe()
    with pytest.raises(ConfigError) as info:
        BridgeConfig.resolve(project="p", api_key=12345)
    assert "12345" not in str(info.value) and "api_key" in str(info.value)


def test_missing_project_names_every_place_looked() -> None:
    looked = r"looked in keyword argument project=, cfg\.wandb\.project and \$WANDB_PROJECT"
    with pytest.raises(ConfigError, match=looked):
        BridgeConfig.resolve({"wandb": {"entity": "e"}})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "sometimes"}, r"mode='sometimes' \(from keyword argument\) is not a W&B mode"),
        ({"devices": "gpu0"}, r"devices='gpu0' \(from keyword argument\) is not a device list"),
        ({"devices": [0, -1]}, r"devices=\[0, -1\]"),
        ({"devices": [0, 0]}, r"listed twice"),
        ({"devices": True}, r"devices=True"),
        ({"project": "a/b"}, r"project='a/b' .* not a valid W&B project name"),
        ({"base_url": "localhost:8080"}, r"must start with http:// or https://"),
        ({"init_timeout": 0}, r"init_timeout=0 .* positive number"),
        ({"resume_attempts": 0}, r"resume_attempts=0 .* integer >= 1"),
        ({"fast_path": "sometimes"}, r"fast_path='sometimes' .* must be one of auto, never"),
        ({"colour": "red"}, r"unknown setting 'colour'"),
        ({"tags": 5}, r"tags=5"),
    ],
)
def test_bad_input_names_field_value_and_source(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BridgeConfig.resolve(**({"project": "p"} | kwargs))


def test_bad_value_from_cfg_section_names_the_section() -> None:
    with pytest.raises(ConfigError, match=r"\(from cfg\.wandb\.devices\)"):
        BridgeConfig.resolve({"wandb": {"project": "p", "devices": "0,x"}})


def test_bad_mode_from_env_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "loud")
    with pytest.raises(ConfigError, match=r"\(from \$WANDB_MODE\)"):
        BridgeConfig.resolve(project="p")


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("0,1", (0, 1)), (3, (3,)), ("cpu", "cpu"), ("cuda:1", "cuda:1"), (["2", "3"], (2, 3)), (None, None), ("", None)],
)
def test_device_forms(raw: object, parsed: object) -> None:
    assert BridgeConfig.resolve(project="p", devices=raw).devices == parsed


def test_unreadable_cfg_type_is_explained() -> None:
    with pytest.raises(ConfigError, match="cannot read W&B settings"):
        BridgeConfig.resolve(42)


def test_the_preemption_grace_must_leave_time_to_take_the_run_back() -> None:
    with pytest.raises(ConfigError) as refused:
        BridgeConfig.resolve(project="p", preemption_grace_seconds=60)
    message = str(refused.value)
    assert "preemption_grace_seconds=60 (from keyword argument)" in message
    assert "resume_grace_seconds=20 (from default)" in message
    cfg = BridgeConfig.resolve(project="p", preemption_grace_seconds=60, resume_grace_seconds=80)
    assert (cfg.preemption_grace_seconds, cfg.resume_grace_seconds) == (60, 80)
    with pytest.raises(ConfigError, match=re.escape("resume_grace_seconds=5 (from keyword")):
        BridgeConfig.resolve(project="p", preemption_grace_seconds=5, resume_grace_seconds=5)


def test_the_preemption_grace_defaults_to_half_the_resume_grace() -> None:
    assert BridgeConfig.resolve(project="p").preemption_grace_seconds == 10
    assert BridgeConfig.resolve(project="p", resume_grace_seconds=4).preemption_grace_seconds == 2
    explicit = BridgeConfig.resolve(project="p", resume_grace_seconds=4, preemption_grace_seconds=3)
    assert explicit.preemption_grace_seconds == 3


def test_tags_given_as_a_generator_arrive_intact() -> None:
    cfg = BridgeConfig.resolve(project="p", tags=(tag for tag in ("baseline", "yolo")))
    assert cfg.tags == ("baseline", "yolo")
    with pytest.raises(ConfigError, match=r"tags=.* must be a list of strings"):
        BridgeConfig.resolve(project="p", tags=(tag for tag in ("ok", 3)))


def test_constructing_directly_validates_and_raises_config_error() -> None:
    with pytest.raises(ConfigError, match=r"devices='gpu' \(from keyword argument\)"):
        BridgeConfig(project="p", devices="gpu")
    with pytest.raises(ConfigError, match=r"job_type=None \(from keyword argument\)"):
        BridgeConfig(project="p", job_type=None)
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        BridgeConfig(project="p", colour="red")


def test_configs_differing_only_in_api_key_are_equal_and_frozen() -> None:
    first, second = BridgeConfig.resolve(project="p", api_key=SECRET), BridgeConfig.resolve(project="p")
    assert first == second and hash(first) == hash(second)
    with pytest.raises(Exception, match="frozen"):
        first.project = "q"  # type: ignore[misc]
