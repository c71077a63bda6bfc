"""Secrets never survive redaction; everything else survives unchanged; the input is never mutated."""

from __future__ import annotations

import copy
import dataclasses
import json
import types
from pathlib import Path
from typing import Any

import pytest

from wandb_ddp_bridge.artifacts import REDACTED, is_secret_key, looks_like_api_key, redact, redact_text, to_plain
from wandb_ddp_bridge.errors import ConfigError

LEGACY_KEY = "0123456789abcdef0123456789abcdef01234567"
ONPREM_KEY = "local-" + "fedcba9876543210fedcba9876543210fedcba98"
V1_KEY = "wandb_v1_" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5kL7nP9rS1tV3xZ5aC7eG9iK1mO3qS5uW7yA9cE1gI3"

SECRET_KEYS = [
    "api_key",
    "API_KEY",
    "apiKey",
    "wandb_api_key",
    "token",
    "hf_token",
    "accessToken",
    "secret",
    "client_secret",
    "password",
    "db-password",
    "passwd",
    "credential",
    "credentials",
    "private_key",
    "ssh_private_key",
    "access_key",
    "aws_access_key_id",
    "aws_secret_access_key",
    "AWS_SECRET_ACCESS_KEY",
    "authorization",
    "Authorization",
]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_every_listed_secret_key_kind_is_redacted(key: str) -> None:
    out = redact({key: "hunter2-value", "lr": 0.1})
    assert out == {key: REDACTED, "lr": 0.1}


@pytest.mark.parametrize("key", ["max_tokens", "tokenizer", "pad_token", "eos_token_id", "keyframes", "epochs"])
def test_ordinary_keys_that_resemble_secret_words_are_kept(key: str) -> None:
    assert redact({key: "keep-me"}) == {key: "keep-me"}


def test_secret_keys_are_found_nested_and_inside_lists() -> None:
    cfg = {
        "wandb": {"project": "p", "api_key": LEGACY_KEY},
        "sinks": [{"name": "s3", "credentials": {"user": "u", "pass": "pw123456"}}, {"token": "t0k3n-xyz"}],
        "deep": {"a": {"b": {"c": [{"password": 1234}]}}},
    }
    out = redact(cfg)
    assert out["wandb"] == {"project": "p", "api_key": REDACTED}
    assert out["sinks"][0] == {"name": "s3", "credentials": REDACTED}
    assert out["sinks"][1] == {"token": REDACTED}
    assert out["deep"]["a"]["b"]["c"] == [{"password": REDACTED}]
    text = json.dumps(out)
    for secret in (LEGACY_KEY, "pw123456", "t0k3n-xyz", "1234"):
        assert secret not in text


@pytest.mark.parametrize("value", [LEGACY_KEY, LEGACY_KEY.upper(), ONPREM_KEY, V1_KEY, f"  {LEGACY_KEY}\n"])
def test_values_that_look_like_api_keys_are_redacted_under_any_key(value: str) -> None:
    assert looks_like_api_key(value)
    assert redact({"note": value, "list": [value]}) == {"note": REDACTED, "list": [REDACTED]}


def test_api_keys_embedded_in_text_are_cut_out() -> None:
    out = redact({"cmd": f"WANDB_API_KEY={V1_KEY} python train.py", "url": f"https://x/{ONPREM_KEY}/y"})
    assert out == {"cmd": f"WANDB_API_KEY={REDACTED} python train.py", "url": f"https://x/{REDACTED}/y"}


def test_git_commit_under_a_hash_key_is_kept_but_an_api_key_is_not() -> None:
    sha = "e" * 40
    assert redact({"git_commit": sha, "sha": sha}) == {"git_commit": sha, "sha": sha}
    assert redact({"other": sha}) == {"other": REDACTED}
    # The same value anywhere else marks it as a possible key: then it goes everywhere (safety wins).
    assert redact({"git_commit": sha, "api_key": sha}) == {"git_commit": REDACTED, "api_key": REDACTED}


def test_a_secret_value_is_removed_wherever_else_it_appears() -> None:
    cfg = {"db": {"password": "s3cr3t-pw"}, "dsn": "postgres://me:s3cr3t-pw@host/db", "copy": "s3cr3t-pw"}
    out = redact(cfg)
    assert out == {"db": {"password": REDACTED}, "dsn": f"postgres://me:{REDACTED}@host/db", "copy": REDACTED}


def test_the_wandb_api_key_from_the_environment_is_removed_from_any_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "not-hex-but-still-a-key-xyz")
    out = redact({"note": "key is not-hex-but-still-a-key-xyz!"})
    assert out == {"note": f"key is {REDACTED}!"}
    assert redact_text("x not-hex-but-still-a-key-xyz y") == f"x {REDACTED} y"


def test_extra_secrets_are_removed() -> None:
    assert redact({"a": "see abcdef-123"}, secrets=["abcdef-123"]) == {"a": f"see {REDACTED}"}


def test_empty_and_missing_secret_values_stay_visible() -> None:
    assert redact({"api_key": None, "token": ""}) == {"api_key": None, "token": ""}


def test_input_is_never_mutated() -> None:
    cfg = {"wandb": {"api_key": LEGACY_KEY, "tags": ["a", LEGACY_KEY]}, "x": [{"password": "abcdefg"}]}
    before = copy.deepcopy(cfg)
    out = redact(cfg)
    assert cfg == before
    out["wandb"]["tags"].append("mutated")
    assert cfg == before


# ------------------------------------------------------------------------------------------ OmegaConf

omegaconf = pytest.importorskip("omegaconf")
OmegaConf = omegaconf.OmegaConf


def test_omegaconf_env_interpolation_to_a_secret_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "zz-top-secret-zz")
    cfg = OmegaConf.create({"svc": {"auth": "${oc.env:MY_SERVICE_TOKEN}"}, "home": "${oc.env:HOME}"})
    out = redact(cfg)
    assert out["svc"]["auth"] == REDACTED
    assert out["home"] not in (REDACTED, "${oc.env:HOME}")
    assert "zz-top-secret-zz" not in json.dumps(out)


def test_omegaconf_interpolation_to_a_secret_key_is_redacted() -> None:
    cfg = OmegaConf.create(
        {
            "wandb": {"api_key": "abc-not-hex-key-123", "project": "p"},
            "copied": "${wandb.api_key}",
            "url": "https://user:${wandb.api_key}@host",
            "proj": "${wandb.project}",
            "block": "${wandb}",
        }
    )
    out = redact(cfg)
    assert out["copied"] == REDACTED
    assert out["url"] == REDACTED
    assert out["proj"] == "p"
    assert out["block"] == {"api_key": REDACTED, "project": "p"}
    assert "abc-not-hex-key-123" not in json.dumps(out)


def test_omegaconf_secrets_in_lists_and_interpolations_resolved() -> None:
    cfg = OmegaConf.create({"lr": 0.1, "lr2": "${lr}", "hosts": [{"token": "tok-abcdef"}, "${lr}"]})
    out = redact(cfg)
    assert out == {"lr": 0.1, "lr2": 0.1, "hosts": [{"token": REDACTED}, 0.1]}


def test_omegaconf_unresolvable_interpolation_keeps_its_text() -> None:
    cfg = OmegaConf.create({"out": "${hydra:runtime.output_dir}", "lr": 0.1, "api_key": "k-abcdefgh"})
    out = redact(cfg)
    assert out == {"out": "${hydra:runtime.output_dir}", "lr": 0.1, "api_key": REDACTED}


def test_omegaconf_input_is_not_mutated() -> None:
    cfg = OmegaConf.create({"wandb": {"api_key": LEGACY_KEY}})
    redact(cfg)
    assert cfg.wandb.api_key == LEGACY_KEY


# ------------------------------------------------------------------------------------------ to_plain


@dataclasses.dataclass
class _Inner:
    api_key: str = "inner-secret-1"
    depth: int = 3


@dataclasses.dataclass
class _Outer:
    name: str = "yolo"
    inner: _Inner = dataclasses.field(default_factory=_Inner)
    sizes: tuple[int, ...] = (1, 2)
    path: Path = Path("/tmp/x")


def test_to_plain_dataclass() -> None:
    assert to_plain(_Outer()) == {
        "name": "yolo",
        "inner": {"api_key": "inner-secret-1", "depth": 3},
        "sizes": [1, 2],
        "path": "/tmp/x",
    }
    assert redact(_Outer())["inner"]["api_key"] == REDACTED


def test_to_plain_simple_namespace_nested() -> None:
    ns = types.SimpleNamespace(wandb=types.SimpleNamespace(project="p", api_key="k-123456"), lr=0.01)
    assert to_plain(ns) == {"wandb": {"project": "p", "api_key": "k-123456"}, "lr": 0.01}
    assert redact(ns) == {"wandb": {"project": "p", "api_key": REDACTED}, "lr": 0.01}


def test_to_plain_omegaconf_structured_and_dict() -> None:
    cfg = OmegaConf.structured(_Outer)
    assert to_plain(cfg)["inner"] == {"api_key": "inner-secret-1", "depth": 3}
    assert to_plain(OmegaConf.create({"a": [1, {"b": "${a.0}"}]})) == {"a": [1, {"b": 1}]}


def test_to_plain_pydantic_v2() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Sub(pydantic.BaseModel):
        token: str = "sub-token-1"

    class Model(pydantic.BaseModel):
        lr: float = 0.1
        sub: Sub = Sub()
        key: pydantic.SecretStr = pydantic.SecretStr("never-unwrapped")

    plain = to_plain(Model())
    assert plain == {"lr": 0.1, "sub": {"token": "sub-token-1"}, "key": REDACTED}
    assert redact(Model())["sub"] == {"token": REDACTED}


def test_to_plain_pydantic_v1_style_model() -> None:
    class V1Like:
        __fields__ = {"lr": None, "password": None}

        def dict(self) -> dict[str, Any]:
            return {"lr": 0.2, "password": "v1-password"}

    assert to_plain(V1Like()) == {"lr": 0.2, "password": "v1-password"}
    assert redact(V1Like()) == {"lr": 0.2, "password": REDACTED}


def test_to_plain_yaml_and_json_paths(tmp_path: Path) -> None:
    y = tmp_path / "c.yaml"
    y.write_text("model: yolov8n\nwandb:\n  api_key: from-yaml-123\n")
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"epochs": 3, "token": "from-json-123"}))
    assert to_plain(y) == {"model": "yolov8n", "wandb": {"api_key": "from-yaml-123"}}
    assert to_plain(str(j)) == {"epochs": 3, "token": "from-json-123"}


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [("missing.yaml", None, "does not exist"), ("c.txt", "a: 1", "must end in"), ("bad.json", "{", "not valid")],
)
def test_to_plain_bad_paths_raise_config_error(tmp_path: Path, name: str, content: str | None, match: str) -> None:
    p = tmp_path / name
    if content is not None:
        p.write_text(content)
    with pytest.raises(ConfigError, match=match):
        to_plain(p)


def test_to_plain_rejects_cycles() -> None:
    a: dict[str, Any] = {}
    a["self"] = a
    with pytest.raises(ConfigError, match="cycle"):
        to_plain(a)


def test_is_secret_key_is_false_for_non_strings() -> None:
    assert not is_secret_key(1)
    assert not is_secret_key(None)
