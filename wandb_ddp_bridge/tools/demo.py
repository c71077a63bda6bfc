"""``wandb-ddp-bridge demo``: the whole three-phase flow, then proof from the backend that it worked.

By default everything is local: the recording W&B server runs in a thread, a synthetic dataset is generated
in a temporary directory, and real Ultralytics training (``yolov8n.yaml``, 64 px, CPU) runs between a
pre-training phase (redacted config, job metadata) and a post-training phase (model and S3 reference
artifacts). The verification report is built by :mod:`wandb_ddp_bridge.tools.verify`, the same checks as
``wandb-ddp-bridge verify``, and the local server serves the run page (:mod:`wandb_ddp_bridge.tools.report`)
at the run's URL; ``serve=True`` keeps it up after the report until Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from ..env import EnvSnapshot
from .verify import Expectations, Report, RunEvidence, check_run

__all__ = ["DemoOptions", "run_demo"]

#: A key of the right shape that authenticates nowhere: shows that configs are redacted before logging.
FAKE_API_KEY = "demo" + "0123456789abcdef" * 2 + "cafe"
S3_DEMO_URI = "s3://demo-bucket/final.pt"


@dataclass(frozen=True)
class DemoOptions:
    devices: str = "cpu"
    backend: Literal["local", "wandb"] = "local"
    mode: Literal["online", "offline"] = "online"
    epochs: int = 2
    project: str = "wandb-ddp-bridge-demo"
    entity: str | None = None
    fast_path: Literal["never", "auto"] = "never"
    images: int = 8
    keep: bool = False
    #: keep the local server (and its run page) up after the report, until Ctrl-C
    serve: bool = False
    #: let Ultralytics draw its plots (results, confusion matrix, curves): the run page shows them
    plots: bool = False


@contextmanager
def _private_environment(work: Path) -> Iterator[None]:
    """The demo's env changes (W&B dir, Ultralytics settings dir, offline YOLO) undone at the end."""
    snapshot = EnvSnapshot.capture_prefix("WANDB_", ("YOLO_CONFIG_DIR", "YOLO_OFFLINE"))
    try:
        os.environ.setdefault("YOLO_CONFIG_DIR", str(work / "yolo-config"))
        os.environ["YOLO_OFFLINE"] = "1"  # never download fonts/weights/datasets
        os.environ["WANDB_DIR"] = str(work / "wandb")
        os.environ.setdefault("WANDB_SILENT", "true")
        os.environ.setdefault("WANDB_DISABLE_GIT", "true")
        (work / "wandb").mkdir(exist_ok=True)
        yield
    finally:
        snapshot.restore(prefix="WANDB_")


def _say(out: TextIO, text: str = "") -> None:
    print(text, file=out, flush=True)


def run_demo(options: DemoOptions, *, out: TextIO = sys.stdout) -> int:
    """Run the demo; 0 only if the verification passed."""
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="wandb-ddp-bridge-demo-"))
    try:
        with ExitStack() as stack:
            stack.enter_context(_private_environment(work))
            return _run(options, work, stack, started, out)
    finally:
        if options.keep:
            _say(out, f"kept the demo files in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _run(options: DemoOptions, work: Path, stack: ExitStack, started: float, out: TextIO) -> int:
    from .datasets import make_detection_dataset

    server = None
    # the server's own stack: closed before the last lines, so they say what is true (stopped, or kept up)
    server_stack = stack.enter_context(ExitStack())
    wandb_settings: dict[str, Any] = {"project": options.project, "mode": options.mode}
    if options.entity:
        wandb_settings["entity"] = options.entity
    if options.backend == "local" and options.mode == "online":
        from ..testing import LocalWandbServer
        from .report import server_pages

        server = server_stack.enter_context(LocalWandbServer(work / "server", pages=server_pages))
        os.environ.update({k: v for k, v in server.env().items() if k != "WANDB_MODE"})
        wandb_settings.update(base_url=server.url, api_key=server.api_key)
        _say(out, f"local W&B server: {server.url} (records in {work / 'server'})")
    elif options.backend == "wandb":
        _say(out, "backend: your W&B account (WANDB_API_KEY / ~/.netrc)")
    api_key_in_cfg = str(wandb_settings.get("api_key") or FAKE_API_KEY)
    data = make_detection_dataset(work / "dataset", images=options.images)
    run_name = f"demo-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    cfg: dict[str, Any] = {
        "wandb": {
            **wandb_settings,
            "api_key": api_key_in_cfg,
            "name": run_name,
            "group": "demo",
            "job_type": "training",
            "tags": ["demo"],
            "devices": options.devices,
            "fast_path": options.fast_path,
        },
        "train": {"model": "yolov8n.yaml", "epochs": options.epochs, "imgsz": 64, "batch": 4, "workers": 0},
        "data": {"yaml": str(data), "images": options.images},
    }
    outcome = _three_phases(cfg, data, work, options, out)
    flow_s = time.perf_counter() - started
    if options.mode == "offline":
        return _offline_report(outcome, flow_s, out)
    expected = ("config", "best", *(["final_model"] if outcome["s3_logged"] else []))
    expect = Expectations(epochs=options.epochs, artifacts=expected, secrets=(api_key_in_cfg,))
    if server is not None:
        from .verify import from_server

        evidence = from_server(outcome["path"], server)
    else:
        evidence = _api_evidence(outcome["path"])
    report = check_run(evidence, expect)
    _print_report(report, outcome, time.perf_counter() - started, out)
    rc = 0 if report.passed else 1
    if server is not None:
        if options.serve:
            _say(out, f"run page      : {evidence.url}")
            _serve_until_interrupted(server, out)
        server_stack.close()
        if not options.serve:  # served: the page was open until Ctrl-C, and serving said it stopped
            _say_server_stopped(evidence.url, out)
    return rc


def _say_server_stopped(url: str | None, out: TextIO) -> None:
    """The demo's last lines once its local server has stopped: the run page's link is dead from here on."""
    _say(out, f"local server  : stopped with the demo; the run page was served at {url} only while it ran")
    _say(out, "                `wandb-ddp-bridge demo --serve` keeps the server and the page open until Ctrl-C")


def _serve_until_interrupted(server: Any, out: TextIO) -> None:
    """Keep the embedded server (and so the run page) up until Ctrl-C."""
    env = server.env()
    _say(out, f"serving the run page and every run of this demo at {server.url}/ until Ctrl-C")
    _say(out, "its W&B protocol endpoints take, e.g. for `wandb-ddp-bridge verify RUN --html report.html`:")
    for name in ("WANDB_BASE_URL", "WANDB_API_KEY"):
        _say(out, f"  export {name}={env[name]}")
    from .serving import wait_until_stopped

    wait_until_stopped()
    _say(out, "stopped serving")


def _three_phases(cfg: dict[str, Any], data: Path, work: Path, options: DemoOptions, out: TextIO) -> dict[str, Any]:
    from .. import wandb_session

    try:
        from ultralytics import YOLO  # type: ignore[attr-defined]
    except ImportError:
        raise SystemExit("the demo trains a real YOLO model: pip install 'wandb-ddp-bridge[ultralytics]'") from None
    ids: dict[str, str | None] = {}
    s3_logged = False
    _say(out, "\n== phase 1: pre-training (orchestration code) ==")
    with wandb_session(cfg) as s:
        ids["pre"] = s.id
        s.save_config(cfg)  # cfg.wandb.api_key is redacted before anything is logged
        s.save_metadata({"demo": True, "dataset": str(data)})
        _say(out, f"run {s.id} created; config and job metadata saved")
        model = YOLO("yolov8n.yaml")
        _say(out, "\n== phase 2: training (run handed off to Ultralytics) ==")
        with s.handoff(model) as h:
            h.train(
                data=str(data),
                epochs=options.epochs,
                imgsz=64,
                batch=4,
                workers=0,
                plots=options.plots,
                amp=False,
                project=str(work / "runs"),
                name="train",
                exist_ok=True,
            )
        _say(out, "\n== phase 3: post-training (same run, resumed) ==")
        ids["post"] = s.id
        best = h.result.best if h.result is not None else None
        if best is None or not Path(best).exists():
            raise SystemExit(f"training produced no best weights ({best}); see the Ultralytics output above")
        s.log_model(best, name="best")
        _say(out, f"logged model artifact 'best' ({Path(best).name})")
        try:
            import boto3  # noqa: F401  (the W&B client needs it for every s3:// reference)
        except ImportError:
            _say(
                out,
                f"skipped the S3 reference {S3_DEMO_URI}: boto3 is not installed (pip install 'wandb-ddp-bridge[s3]')",
            )
        else:
            s.log_s3_artifact(S3_DEMO_URI, name="final_model", checksum=False)
            s3_logged = True
            _say(out, f"logged reference artifact 'final_model' -> {S3_DEMO_URI} (checksum=False: no S3 call)")
        run = s.run
        path = f"{run.entity}/{run.project}/{run.id}" if run is not None else str(s.id)
        url = s.url
    return {"path": path, "url": url, "ids": ids, "s3_logged": s3_logged, "best": best}


def _api_evidence(path: str) -> RunEvidence:
    """W&B cloud indexes history asynchronously: give it a few seconds before judging."""
    from .verify import from_api

    evidence = from_api(path)
    for _ in range(6):
        if evidence.found and evidence.state == "finished" and evidence.history:
            break
        time.sleep(5)
        evidence = from_api(path)
    return evidence


def _offline_report(outcome: Mapping[str, Any], elapsed: float, out: TextIO) -> int:
    ids = outcome["ids"]
    same = ids.get("pre") is not None and ids.get("pre") == ids.get("post")
    _say(out, "\n== verification (offline) ==")
    _say(
        out,
        f"run id before and after training: {ids.get('pre')} / {ids.get('post')} ({'same' if same else 'DIFFERENT'})",
    )
    _say(
        out,
        "offline mode cannot prove resume semantics (wandb accepts resume='must' offline and writes a "
        "second local folder); use the default local backend for the full proof, or sync with "
        f"`wandb sync --id {ids.get('pre')} <wandb dir>/offline-run-*`",
    )
    _say(out, f"outcome: {'PASSED' if same else 'FAILED'} in {elapsed:.1f} s")
    return 0 if same else 1


def _clock(t: float | None) -> str:
    return datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3] if t is not None else "?"


def _print_report(report: Report, outcome: Mapping[str, Any], elapsed: float, out: TextIO) -> None:
    ev = report.evidence
    _say(out, "\n" + "=" * 30 + " verification report " + "=" * 30)
    _say(out, f"source        : {ev.source}")
    if ev.runs_on_backend is not None:
        _say(out, f"runs created  : {ev.runs_on_backend} (must be 1)")
    _say(out, f"run           : {ev.path}")
    _say(out, f"url           : {ev.url or outcome.get('url') or '-'}")
    _say(out, "phases        :")
    keys = ev.user_config_keys
    secret = (
        ev.config.get("config", {}).get("wandb", {}).get("api_key")
        if isinstance(ev.config.get("config"), Mapping)
        else None
    )
    _say(out, f"  pre-training : config keys {keys}; cfg.wandb.api_key stored as {secret!r}")
    _say(
        out,
        f"                 artifacts {[a.name for a in report.phases['pre']]}; "
        f"job metadata {'yes' if 'job' in ev.config else 'no'}",
    )
    epochs, training = list(report.view.epochs), [a.name for a in report.phases["training"]]
    _say(out, f"  training     : epochs logged {epochs}; artifacts {training}")
    _say(out, f"  post-training: artifacts {[a.name for a in report.phases['post']]}")
    if report.phases["unknown"]:
        _say(out, f"  (phase unknown: {[a.name for a in report.phases['unknown']]})")
    if ev.sessions is not None:
        _say(out, "writer timeline (who held the run, from the server's records):")
        for s in ev.sessions:
            how = "created" if s.index == 0 else f"resumed ({s.resume_mode})"
            _say(
                out,
                f"  #{s.index}  {_clock(s.started)} -> {_clock(s.ended)}  {how:<17} "
                f"exit {s.exit_code}  {report.view.label_window(s.started, s.ended)}"
                + ("  OVERLAPPING" if s.overlapping else ""),
            )
    _say(out, "checks:")
    _say(out, report.table())
    _say(out, f"outcome       : {'PASSED' if report.passed else 'FAILED'} in {elapsed:.1f} s")
