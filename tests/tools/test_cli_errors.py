"""The CLI's answers to bad input and unreadable backends (issue 24, item 5): exit codes and one-line reasons,
never a traceback. ``verify``: 0 passed, 1 a check failed, 2 usage, 3 the run or its backend could not be read."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_verify import PROJECT, make_run  # the runs the verify tests build, the way the bridge writes them

from wandb_ddp_bridge.tools.cli import main
from wandb_ddp_bridge.tools.verify import backend_of, parse_run_path

WRONG_KEY = "f" * 40


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def one_line_error(result: Any) -> str:
    """The one error line a refused command printed (and proof it printed no traceback)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [ln for ln in result.output.splitlines() if ln.lower().startswith("error")]
    assert len(errors) == 1, result.output
    return errors[0]


def test_verify_reads_the_run_page_url_that_serve_prints(wandb_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_run()
    entity, project, run_id = path.split("/")
    monkeypatch.delenv("WANDB_BASE_URL")  # the URL alone says where the run lives
    result = cli(
        "verify", f"{wandb_server.url}/{entity}/{project}/runs/{run_id}?workspace=user", "--expect-epochs", "2"
    )
    assert result.exit_code == 0, result.output
    assert f"run {path} on {wandb_server.url}" in result.output


def test_a_w_and_b_cloud_run_url_names_the_run_and_the_cloud_api() -> None:
    url = "https://wandb.ai/my-team/my-project/runs/abc123?nw=nwuser"
    assert parse_run_path(url) == ("my-team", "my-project", "abc123")
    assert backend_of(url) == "https://api.wandb.ai"
    assert backend_of("my-team/my-project/abc123") is None


def test_verify_exits_3_when_the_backend_refuses_the_key(wandb_server: Any) -> None:
    path = make_run(post=False)
    result = cli("verify", path, "--api-key", WRONG_KEY)
    assert result.exit_code == 3
    assert "refused the API key" in one_line_error(result)
    assert WRONG_KEY not in result.output


def test_verify_exits_3_at_once_when_the_backend_is_unreachable() -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = cli("verify", "e/p/r", "--base-url", f"http://127.0.0.1:{port}", "--api-key", WRONG_KEY)
    assert result.exit_code == 3
    assert f"cannot reach http://127.0.0.1:{port}" in one_line_error(result)


def test_verify_exits_1_when_a_check_fails(wandb_server: Any) -> None:
    result = cli("verify", make_run(epochs=(1,)), "--expect-epochs", "2")
    assert result.exit_code == 1
    assert "verification FAILED" in result.output or "FAIL" in result.output


def test_verify_html_into_a_missing_folder_is_a_usage_error(wandb_server: Any, tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "page.html"
    result = cli("verify", f"{wandb_server.entity}/{PROJECT}/any", "--html", str(target))
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output
    assert not target.parent.exists()


def test_doctor_fails_on_a_key_the_backend_refuses(wandb_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", WRONG_KEY)
    result = cli("doctor", "--timeout", "5")
    assert result.exit_code == 1, result.output
    assert "FAIL  api key check" in result.output and "refused the API key" in result.output
    assert WRONG_KEY not in result.output


def test_doctor_accepts_the_servers_own_key(wandb_server: Any) -> None:
    result = cli("doctor", "--timeout", "5")
    assert "OK    api key check" in result.output, result.output


def test_doctor_fails_on_a_base_url_that_is_not_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", "notaurl")
    result = cli("doctor", "--no-network")
    assert result.exit_code == 1
    assert "FAIL  base url" in result.output and "'notaurl' is not a URL" in result.output


def test_serve_on_a_busy_port_says_so_in_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("serve", "--port", str(port))
    assert result.exit_code == 1
    assert "the port is in use" in one_line_error(result)


@pytest.mark.parametrize(
    ("args", "code", "reason"),
    [
        (("--port", "70000"), 2, "70000 is not in the range"),
        (("--host", "256.1.1.1"), 1, "not a valid address"),
    ],
)
def test_serve_refuses_an_impossible_address_in_one_line(args: tuple[str, ...], code: int, reason: str) -> None:
    result = cli("serve", *args)
    assert result.exit_code == code
    assert reason in one_line_error(result)
