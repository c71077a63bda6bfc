"""A session's redactor remembers every secret it has seen and hides it in every later call, whatever its type."""

from __future__ import annotations

import datetime as dt
import enum
import json
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_ddp_bridge.artifacts import REDACTED, Redactor, is_secret_key, to_plain

PASSWORD = "s3cr3t-hunter2"


def test_a_secret_seen_in_one_call_is_hidden_in_every_later_call() -> None:
    redactor = Redactor()
    assert redactor.redact({"db": {"password": PASSWORD}}) == {"db": {"password": REDACTED}}
    later = redactor.redact({"cmd": f"train.py --password {PASSWORD}"})
    assert later == {"cmd": f"train.py --password {REDACTED}"}
    assert redactor.text(f"could not log in with {PASSWORD}") == f"could not log in with {REDACTED}"


def test_a_non_string_secret_is_hidden_as_a_value_and_inside_text() -> None:
    out = Redactor().redact({"password": 98765432, "note": "pw is 98765432", "copy": 98765432, "lr": 0.01})
    assert out == {"password": REDACTED, "note": f"pw is {REDACTED}", "copy": REDACTED, "lr": 0.01}


@pytest.mark.parametrize(
    "key", ["pass", "db_pass", "pwd", "DB_PWD", "redisPwd", "pw", "PW", "passphrase", "credentials", "private_key"]
)
def test_short_password_key_words_are_secret(key: str) -> None:
    assert is_secret_key(key)
    assert Redactor().redact({key: "x9-value"}) == {key: REDACTED}


@pytest.mark.parametrize("key", ["bypass", "compass", "passes", "pwm", "PWD", "OLDPWD", "pass_rate"])
def test_words_that_only_contain_the_short_password_words_are_kept(key: str) -> None:
    # "pass_rate" has the whole word "pass": the rule is about whole words, so it is secret; the others are not.
    assert is_secret_key(key) is (key == "pass_rate")


@pytest.mark.parametrize(
    ("text", "expected", "password"),
    [
        ("postgresql://admin:pw-Xy7@db/x", f"postgresql://admin:{REDACTED}@db/x", "pw-Xy7"),
        ("redis://:topsecret@r:6379/0", f"redis://:{REDACTED}@r:6379/0", "topsecret"),
        ("cannot reach postgres://app:Pa55word@db:5432", f"cannot reach postgres://app:{REDACTED}@db:5432", "Pa55word"),
    ],
)
def test_url_userinfo_passwords_are_masked_and_remembered(text: str, expected: str, password: str) -> None:
    redactor = Redactor()
    assert redactor.redact({"dsn": text}) == {"dsn": expected}
    assert redactor.text(f"login {password} refused") == f"login {REDACTED} refused"


def test_urls_without_a_password_are_kept() -> None:
    for text in ("https://example.com/a:b@c", "s3://bucket/key", "http://user@host/x", "https://h:8080/p"):
        assert Redactor().redact({"u": text}) == {"u": text}


def test_failure_text_keeps_the_type_and_redacts_the_message() -> None:
    redactor = Redactor([PASSWORD])
    exc = ConnectionError(f"cannot reach postgres://app:{PASSWORD}@db (auth {PASSWORD})")
    assert redactor.failure(exc) == f"ConnectionError: cannot reach postgres://app:{REDACTED}@db (auth {REDACTED})"


def test_remembered_values_are_hidden_and_short_ones_are_not_hunted() -> None:
    redactor = Redactor(["apikey-123456", "ab"])
    assert redactor.text("key=apikey-123456 ab") == f"key={REDACTED} ab"
    assert "ab" not in redactor.known


class Level(enum.IntEnum):
    LOW = 1


class Color(enum.Enum):
    RED = "red"


def test_configs_with_numpy_enums_dates_paths_sets_and_bytes_become_plain_yaml_safe_values() -> None:
    cfg = {
        "f": np.float64(0.5),
        "i": np.int64(3),
        "b": np.bool_(True),
        "arr": np.arange(3),
        "level": Level.LOW,
        "color": Color.RED,
        "when": dt.date(2026, 12, 4),
        "path": PurePosixPath("/data/x"),
        "tags": {"b", "a"},
        "raw": b"bytes",
    }
    out = to_plain(cfg)
    assert out == {
        "f": 0.5,
        "i": 3,
        "b": True,
        "arr": [0, 1, 2],
        "level": 1,
        "color": "red",
        "when": "2026-12-04",
        "path": "/data/x",
        "tags": ["a", "b"],
        "raw": "bytes",
    }
    assert {type(v) for v in (out["f"], out["i"], out["b"], out["level"])} == {float, int, bool}
    assert yaml.safe_load(yaml.safe_dump(out)) == out  # the config artifact can always be written


# ----------------------------------------------------------------------------------- property: nothing leaks
_secret = st.text(alphabet="abcdefghijkmnpqrstuvwxyzABCDEFGH23456789!#%^*", min_size=8, max_size=20)
_plain_text = st.text(alphabet="abcdefg _-.", max_size=12)
_secret_key = st.sampled_from(
    ["password", "db_pass", "pwd", "pw", "api_key", "client_secret", "hf_token", "passphrase"]
)
_plain_key = st.sampled_from(["lr", "epochs", "name", "notes", "cmd", "path"])


@st.composite
def _config_with_secrets(draw: st.DrawFn) -> tuple[Any, list[str]]:
    """A nested config carrying secrets under secret keys and as URL passwords, and the secrets themselves."""
    secrets: list[str] = []

    def node(depth: int) -> Any:
        kind = draw(
            st.sampled_from(["leaf", "secret", "url", "map", "list"] if depth < 3 else ["leaf", "secret", "url"])
        )
        if kind == "secret":
            secret = draw(_secret)
            secrets.append(secret)
            return {draw(_secret_key): secret}
        if kind == "url":
            secret = draw(_secret).replace("@", "").replace("/", "")
            secrets.append(secret)
            return f"postgresql://user:{secret}@db/x"
        if kind == "map":
            return {draw(_plain_key) + str(i): node(depth + 1) for i in range(draw(st.integers(1, 3)))}
        if kind == "list":
            return [node(depth + 1) for _ in range(draw(st.integers(1, 3)))]
        return draw(st.one_of(_plain_text, st.integers(-5, 5), st.none()))

    return {"root": node(0)}, secrets


@settings(max_examples=150, deadline=None)
@given(_config_with_secrets(), st.lists(st.sampled_from(["text", "metadata", "failure"]), max_size=4))
def test_no_secret_survives_any_later_call(case: tuple[Any, list[str]], later: list[str]) -> None:
    cfg, secrets = case
    redactor = Redactor()
    written = [json.dumps(redactor.redact(cfg))]
    for kind in later:  # later calls repeat the secrets in other places and shapes
        for secret in secrets:
            if kind == "text":
                written.append(redactor.text(f"retrying with {secret}"))
            elif kind == "metadata":
                written.append(json.dumps(redactor.redact({"argv": ["--auth", secret], "env": {"X": secret}})))
            else:
                written.append(redactor.failure(RuntimeError(f"login failed for {secret}")))
    for secret in secrets:
        assert all(secret not in text for text in written), secret
