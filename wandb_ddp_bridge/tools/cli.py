"""``wandb-ddp-bridge`` (also ``python -m wandb_ddp_bridge``): demo, verify, doctor, serve.

Each command imports its module only when it runs, so ``--help`` stays instant.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wandb-ddp-bridge", prog_name="wandb-ddp-bridge")
def main() -> None:
    """One W&B run across pre-training, (DDP) training and post-training."""


@main.command()
@click.option(
    "--devices",
    default="cpu",
    show_default=True,
    help="Training devices: 'cpu', or GPU ids like '0' or '0,1' (several GPUs run real DDP).",
)
@click.option(
    "--backend",
    type=click.Choice(["local", "wandb"]),
    default="local",
    show_default=True,
    help="'local': an embedded W&B-protocol server (no account needed); 'wandb': your W&B account.",
)
@click.option("--mode", type=click.Choice(["online", "offline"]), default="online", show_default=True)
@click.option("--epochs", type=click.IntRange(1, 100), default=2, show_default=True)
@click.option("--project", default="wandb-ddp-bridge-demo", show_default=True)
@click.option("--entity", default=None, help="W&B entity (default: your default entity).")
@click.option(
    "--fast-path",
    type=click.Choice(["never", "auto"]),
    default="never",
    show_default=True,
    help="'never' hands the run off like a multi-GPU job (finish, then resume) so the timeline "
    "shows every writer; 'auto' keeps it open for in-process training.",
)
@click.option("--keep", is_flag=True, help="Keep the temporary dataset, weights and server records.")
@click.option(
    "--serve",
    is_flag=True,
    help="Keep the local server up after the report so the run page can be opened (Ctrl-C ends it).",
)
@click.option("--plots", is_flag=True, help="Let Ultralytics draw its plots (the run page shows them; slower).")
def demo(
    devices: str,
    backend: str,
    mode: str,
    epochs: int,
    project: str,
    entity: str | None,
    fast_path: str,
    keep: bool,
    serve: bool,
    plots: bool,
) -> None:
    """Run the whole three-phase flow with real YOLO training and print a verification report."""
    from .demo import DemoOptions, run_demo

    if serve and (backend != "local" or mode != "online"):
        raise click.BadParameter(
            "--serve keeps the embedded local server up: it needs --backend local --mode online "
            "(with --backend wandb, open the run's W&B URL; or `verify RUN --html FILE` for a page)",
            param_hint="--serve",
        )
    options = DemoOptions(
        devices=devices,
        backend=backend,  # type: ignore[arg-type]  # click.Choice guarantees the literal
        mode=mode,  # type: ignore[arg-type]
        epochs=epochs,
        project=project,
        entity=entity,
        fast_path=fast_path,  # type: ignore[arg-type]
        keep=keep,
        serve=serve,
        plots=plots,
    )
    sys.exit(run_demo(options))


@main.command()
@click.argument("run_path", metavar="RUN")
@click.option("--base-url", default=None, help="Backend URL (default: $WANDB_BASE_URL or W&B cloud).")
@click.option(
    "--api-key",
    default=None,
    envvar="WANDB_API_KEY",
    show_envvar=True,
    help="API key (default: $WANDB_API_KEY or ~/.netrc).",
)
@click.option(
    "--expect-epochs",
    type=click.IntRange(1),
    default=None,
    help="Epochs that must all be in history (default: the run config's 'epochs', else the last seen).",
)
@click.option(
    "--expect-artifact",
    "expect_artifacts",
    multiple=True,
    metavar="NAME",
    help="An artifact the run must have logged (repeatable).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    metavar="FILE",
    help="Also write the run page to FILE: one self-contained HTML file (no network needed to view it).",
)
def verify(
    run_path: str,
    base_url: str | None,
    api_key: str | None,
    expect_epochs: int | None,
    expect_artifacts: tuple[str, ...],
    html_path: str | None,
) -> None:
    """Check through wandb.Api that one run holds all three phases.

    RUN may also be a run page's URL. Exit codes: 0 passed, 1 a check failed, 2 usage (a malformed RUN, an
    --html FILE that cannot be written), 3 the run or its backend could not be read (not found, API key
    refused, backend unreachable)."""
    from .verify import Expectations, backend_of, parse_run_path, verify_run

    try:
        entity, project, run_id = parse_run_path(run_path)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="RUN_PATH") from None
    if html_path is not None:
        _check_writable(html_path)
    base = base_url or backend_of(run_path) or os.environ.get("WANDB_BASE_URL")
    path = f"{entity}/{project}/{run_id}"
    try:
        report = verify_run(
            path,
            base_url=base,
            api_key=api_key,
            expect=Expectations(epochs=expect_epochs, artifacts=expect_artifacts),
            media_data=html_path is not None,
        )
    except Exception as exc:  # a backend that fails half-way through reading the run
        _cannot_read(f"reading {path} from {base or 'the default W&B backend'} failed: {exc}")
    if not report.evidence.found:
        _cannot_read(report.evidence.error or f"no run {path}")
    click.echo(f"run {report.evidence.path} on {report.evidence.source}")
    click.echo(report.table())
    if html_path is not None:
        _write_page(report, html_path)
    sys.exit(0 if report.passed else 1)


@main.command()
@click.option("--no-network", is_flag=True, help="Do not probe the W&B backend.")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Backend probe timeout (s).")
def doctor(no_network: bool, timeout: float) -> None:
    """Versions, Ultralytics' W&B setting, GPUs, distributed and WANDB_* env, backend reachability."""
    from .doctor import diagnose, render

    findings = diagnose(network=not no_network, timeout=timeout)
    click.echo(render(findings))
    sys.exit(1 if any(f.status == "fail" for f in findings) else 0)


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="TCP port (0: a free one).")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on. Anything but loopback makes the run pages readable from other machines.",
)
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Where the SQLite records live, kept across restarts (default: a temporary folder, removed at exit).",
)
@click.option(
    "--api-key",
    default=None,
    envvar="WANDB_LOCAL_SERVER_API_KEY",
    help="The API key clients must use (default: a new one, printed).",
)
def serve(port: int, host: str, data_dir: str | None, api_key: str | None) -> None:
    """Run the local W&B server in the foreground, with a page per run (Ctrl-C stops it)."""
    import warnings

    from ..testing import LocalWandbServer
    from .report import server_pages
    from .serving import listen_failure, wait_until_stopped

    server = LocalWandbServer(data_dir, port, host, api_key=api_key, pages=server_pages)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            server.start()
        except OSError as exc:  # busy port, an address this machine does not have, a data dir it cannot write
            raise click.ClickException(f"cannot serve on {host}:{port}: {listen_failure(exc)}") from None
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    env: dict[str, Any] = server.env()
    click.echo(f"listening on {server.url}")
    click.echo(f"run pages: {server.url}/ (every run; each at {server.url}/<entity>/<project>/runs/<id>)")
    click.echo("point a wandb client at it with:")
    for name in ("WANDB_BASE_URL", "WANDB_API_KEY", "WANDB_MODE"):
        click.echo(f"  export {name}={env[name]}")
    if data_dir is None:
        click.echo(f"records in {server.data_dir} (removed at exit; --data-dir keeps them)")
    try:
        wait_until_stopped()
    finally:
        server.stop()
        click.echo("stopped")


#: ``verify``'s exit status when the run or its backend could not be read (0 passed, 1 failed, 2 usage).
CANNOT_READ = 3


def _cannot_read(reason: str) -> NoReturn:
    click.echo(f"error: {' '.join(reason.split())}", err=True)  # one line, whatever the backend said
    sys.exit(CANNOT_READ)


def _check_writable(html_path: str) -> None:
    """Refuse an --html FILE in a folder that is not there before spending time on the backend."""
    folder = os.path.dirname(os.path.abspath(html_path))
    if not os.path.isdir(folder):
        raise click.BadParameter(f"folder {folder} does not exist; create it first", param_hint="--html")
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"folder {folder} is not writable", param_hint="--html")


def _write_page(report: Any, html_path: str) -> None:
    from pathlib import Path

    from .report import render_page

    try:
        Path(html_path).write_text(render_page(report), encoding="utf-8")
    except OSError as exc:
        raise click.UsageError(f"cannot write the run page to {html_path}: {exc.strerror or exc}") from None
    click.echo(f"run page written to {html_path}")


if __name__ == "__main__":  # pragma: no cover
    main()
