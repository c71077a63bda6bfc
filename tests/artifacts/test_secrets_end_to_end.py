"""No secret leaves the process: what a session writes (config, metadata, rows, summary, failure text) reaches the
local server with every secret it has seen removed, in every request body the server received."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from wandb_ddp_bridge import wandb_session
from wandb_ddp_bridge.artifacts import REDACTED

PASSWORD = "Pa55-w0rd-9921"
PASS_VALUE = "pass-value-7781"
DSN_PASSWORD = "dsnSecret4410"
NUMERIC_PASSWORD = 98765432


def _session(server: Any, project: str) -> Any:
    return wandb_session(project=project, base_url=server.base_url, api_key=server.api_key, fast_path="never")


@pytest.mark.parametrize("where", ["pre", "training"])
def test_a_failing_session_sends_no_secret_in_any_request(wandb_server_unexported: Any, where: str) -> None:
    server = wandb_server_unexported
    secrets = (PASSWORD, PASS_VALUE, DSN_PASSWORD, str(NUMERIC_PASSWORD), server.api_key)
    cfg = {
        "db": {"password": PASSWORD, "pass": PASS_VALUE, "dsn": f"postgresql://app:{DSN_PASSWORD}@db/x"},
        "cache": {"pw": NUMERIC_PASSWORD},
        "lr": 0.01,
    }
    failure = RuntimeError(
        f"cannot reach postgres://app:{DSN_PASSWORD}@db as {PASSWORD} (pin {NUMERIC_PASSWORD}, key {server.api_key})"
    )
    with pytest.raises(RuntimeError), _session(server, f"secrets-{where}") as s:
        s.save_config(cfg)
        s.save_metadata({"cmd": f"train.py --password {PASSWORD} --pass {PASS_VALUE}", "pin": NUMERIC_PASSWORD})
        s.log({"note": f"the db pass is {PASS_VALUE}", "loss": 0.5})
        s.summary["login"] = f"logged in with {PASSWORD}"
        if where == "pre":
            raise failure
        with s.handoff():
            raise failure

    received = server.all_received_text()
    for secret in secrets:
        assert secret not in received, f"{secret!r} reached the server"
    [run] = server.runs(project=f"secrets-{where}")
    assert run.summary["bridge_failure"] == (
        f"RuntimeError: cannot reach postgres://app:{REDACTED}@db as {REDACTED} (pin {REDACTED}, key {REDACTED})"
    )
    assert run.config["config"]["db"]["dsn"] == f"postgresql://app:{REDACTED}@db/x"
    assert run.config["config"]["lr"] == 0.01  # what is not secret arrives as it was
    assert [row["loss"] for row in run.history if "loss" in row] == [0.5]


# A fixed odd prefix: a generated "username" would be found in the client's own GraphQL, not as a leak.
_secret = st.text(alphabet="abcdefghijkmnpqrstuvwxyzABCDEFGH23456789!%^*", min_size=6, max_size=14).map(
    lambda text: "Zq9~" + text
)
_secret_key = st.sampled_from(["password", "db_pass", "pwd", "pw", "api_key", "client_secret", "passphrase"])


# No shrinking: each example is a whole session against the server (seconds); the failing example is reported.
@settings(
    max_examples=6,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    key=_secret_key,
    secret=_secret,
    url_secret=_secret,
    nested=st.integers(0, 3),
    repeat_in=st.lists(st.sampled_from(["metadata", "row", "summary", "failure"]), min_size=1, max_size=4),
)
def test_generated_secrets_never_reach_the_server(
    wandb_server_unexported: Any, key: str, secret: str, url_secret: str, nested: int, repeat_in: list[str]
) -> None:
    server = wandb_server_unexported
    project = f"gen-{uuid.uuid4().hex[:8]}"
    cfg: dict[str, Any] = {key: secret, "dsn": f"redis://:{url_secret}@cache:6379/0"}
    for depth in range(nested):
        cfg = {f"level{depth}": cfg, "items": [cfg]}
    with pytest.raises(ValueError), _session(server, project) as s:
        s.save_config(cfg)
        for place in repeat_in:
            if place == "metadata":
                s.save_metadata({"argv": ["--auth", secret, "--cache", url_secret]})
            elif place == "row":
                s.log({"text": f"{secret} / {url_secret}"})
            elif place == "summary":
                s.summary["seen"] = f"{url_secret}{secret}"
        raise ValueError(f"auth {secret} failed for redis://:{url_secret}@cache")
    received = server.all_received_text()
    assert secret not in received
    assert url_secret not in received
