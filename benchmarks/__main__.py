"""Run every benchmark against the embedded local W&B server and print one markdown report.

    python -m benchmarks [--reps N] [--skip-yolo] [--only page] [--output docs/benchmarks.md]

A/B repetitions are interleaved (A, B, A, B, ...) so drift on the machine hits both sides alike. The numbers
are medians of one run on this machine, not assertions: the test suite never times anything.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import wandb_ddp_bridge
from wandb_ddp_bridge import wandb_session
from wandb_ddp_bridge.testing import LocalWandbServer

from .checkpoints import bench_checkpoints
from .training import tiny_training_args

Row = tuple[str, str, str, str]


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@contextlib.contextmanager
def local_backend(*, spawned: bool = False) -> Iterator[LocalWandbServer]:
    """The one local server of a benchmark run: main() opens it once around every benchmark that talks to
    W&B, because wandb's process-wide settings keep the first base URL they saw. ``spawned``: served from a
    child process, so its request handling does not share this process's GIL (the checkpoint uploads)."""
    with tempfile.TemporaryDirectory() as data:
        server = LocalWandbServer.spawn(data_dir=data) if spawned else LocalWandbServer(data_dir=data).start()
        saved = dict(os.environ)
        os.environ.update(server.env())
        os.environ["WANDB_DIR"] = tempfile.mkdtemp(prefix="bench-wandb-")
        try:
            yield server
        finally:
            os.environ.clear()
            os.environ.update(saved)
            server.stop()


def interleaved(reps: int, a: Callable[[], float], b: Callable[[], float]) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for _ in range(reps):
        xs.append(a())
        ys.append(b())
    return xs, ys


def bench_handoff(reps: int) -> list[Row]:
    """(a) `with s.handoff(): pass` vs the raw SDK floor (finish + init(resume="must"))."""
    import wandb

    with wandb_session(project="bench-handoff") as s:

        def bridge_handoff() -> float:
            start = time.perf_counter()
            with s.handoff():
                pass
            return time.perf_counter() - start

        def raw_sdk() -> float:
            run = wandb.run
            assert run is not None
            start = time.perf_counter()
            run.finish()
            wandb.init(id=run.id, project=run.project, entity=run.entity, resume="must")
            elapsed = time.perf_counter() - start
            s._run = wandb.run  # keep the session pointing at the live run
            return elapsed

        bridge, raw = interleaved(reps, bridge_handoff, raw_sdk)
    ratio = median_ms(bridge) / median_ms(raw)
    return [
        (
            "handoff enter+exit (full path)",
            f"{median_ms(bridge):.0f} ms",
            f"raw finish+resume {median_ms(raw):.0f} ms",
            f"{ratio:.2f}x (goal <= 1.05)",
        )
    ]


class WandbTimer:
    """Time spent inside wandb.init / Run.finish / Run.log, summed (the job's W&B overhead)."""

    def __init__(self) -> None:
        self.total = 0.0

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        import wandb
        from wandb.sdk.wandb_run import Run

        originals = (wandb.init, Run.finish, Run.log)

        def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.total += time.perf_counter() - start

            return wrapper

        wandb.init, Run.finish, Run.log = timed(originals[0]), timed(originals[1]), timed(originals[2])
        try:
            yield
        finally:
            wandb.init, Run.finish, Run.log = originals


def bench_whole_job(reps: int, data_yaml: Path) -> list[Row]:
    """(b) W&B time of a whole single-process job: the seed's hand-written sequence vs the bridge."""
    import wandb
    from ultralytics import YOLO

    def seed_job() -> float:
        timer = WandbTimer()
        with timer.installed():
            run = wandb.init(project="bench-job", job_type="training")
            run.config.update({"lr": 0.01})
            run_id = run.id
            run.finish()
            os.environ.update(WANDB_RUN_ID=run_id, WANDB_PROJECT="bench-job", WANDB_RESUME="allow")
            YOLO("yolov8n.yaml").train(**tiny_training_args(data_yaml, epochs=1, val=False))
            run = wandb.init(id=run_id, project="bench-job", resume="must")
            run.log({"final": 1})
            run.finish()
            for name in ("WANDB_RUN_ID", "WANDB_PROJECT", "WANDB_RESUME"):
                os.environ.pop(name, None)
        return timer.total

    def bridge_job(fast_path: str) -> Callable[[], float]:
        def job() -> float:
            timer = WandbTimer()
            with timer.installed(), wandb_session(project="bench-job", fast_path=fast_path) as s:
                s.summary["lr"] = 0.01
                model = YOLO("yolov8n.yaml")
                with s.handoff(model) as h:
                    h.train(**tiny_training_args(data_yaml, epochs=1, val=False))
                s.log({"final": 1})
            return timer.total

        return job

    seed, fast = interleaved(reps, seed_job, bridge_job("auto"))
    _, full = interleaved(reps, lambda: 0.0, bridge_job("never"))
    return [
        (
            "whole job W&B time: seed recipe",
            f"{median_ms(seed):.0f} ms",
            "init, finish, resume, finish; logs nothing from training",
            "1.00x",
        ),
        (
            "whole job W&B time: bridge, full path",
            f"{median_ms(full):.0f} ms",
            "finish + resume around training",
            f"{median_ms(full) / median_ms(seed):.2f}x of seed",
        ),
        (
            "whole job W&B time: bridge, fast path",
            f"{median_ms(fast):.0f} ms",
            "run kept open in-process",
            f"{median_ms(seed) / median_ms(fast):.2f}x less than seed (goal >= 2x)",
        ),
    ]


def bench_callbacks(data_yaml: Path) -> list[Row]:
    """(d) The bridge's cost inside the training loop: per-batch callbacks (must be 0), per-epoch cost."""
    from ultralytics import YOLO

    from wandb_ddp_bridge.integrations.ultralytics import callbacks as bridge_callbacks

    spent: dict[str, list[float]] = {}

    def timed(event: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(trainer: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(trainer)
            finally:
                spent.setdefault(event, []).append(time.perf_counter() - start)

        return wrapper

    original_table = dict(bridge_callbacks._TABLE)
    bridge_callbacks._TABLE.update({event: (timed(event, fn), pos) for event, (fn, pos) in original_table.items()})
    try:
        with wandb_session(project="bench-callbacks") as s:
            model = YOLO("yolov8n.yaml")
            with s.handoff(model) as h:
                h.train(**tiny_training_args(data_yaml))
            callbacks = model.trainer.callbacks if model.trainer is not None else {}
            # the floor: one wandb run.log of a row the size of an epoch row, in the same run
            row = {f"metric/{i}": float(i) for i in range(16)}
            floor: list[float] = []
            for _ in range(20):
                start = time.perf_counter()
                s.log(row)
                floor.append(time.perf_counter() - start)
    finally:
        bridge_callbacks._TABLE.update(original_table)
    per_batch = sum(
        1
        for event, fns in callbacks.items()
        if "batch" in event
        for fn in fns
        if isinstance(fn, bridge_callbacks.RankZeroCallback)
    )
    epoch_events = [e for e in spent if "epoch" in e]
    per_epoch = [sum(spent[e][i] for e in epoch_events) for i in range(min(len(spent[e]) for e in epoch_events))]
    return [
        ("bridge callbacks per batch", str(per_batch), "registered on *_batch_* events", "goal 0"),
        (
            "bridge callbacks per epoch",
            f"{median_ms(per_epoch):.2f} ms",
            f"one wandb run.log of a 16-key row: {median_ms(floor):.2f} ms ({len(per_epoch)} epochs)",
            "goal < 1 ms",
        ),
    ]


def bench_training_logging(reps: int, data_yaml: Path) -> list[Row]:
    """(g) W&B time inside the training, side by side on the same training (plots on, 3 epochs): the bridge's
    callbacks with Ultralytics' W&B setting off vs Ultralytics' own W&B callback (setting on) logging into the
    same kind of handed-off run. Toggling the setting per training needs a release that reads it when the
    trainer is built (`native_init_at_pretrain_end`, 8.4.177+)."""
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    from wandb_ddp_bridge.integrations.ultralytics import callbacks as bridge_callbacks
    from wandb_ddp_bridge.integrations.ultralytics import containment, releases

    if not releases.holds("native_init_at_pretrain_end"):
        return [("training W&B time: bridge vs native callback", "skipped", "needs Ultralytics 8.4.177+", "")]
    timed_classes = (bridge_callbacks.RankZeroCallback, containment.ContainedNative)
    originals = {cls: cls.__call__ for cls in timed_classes}
    spent = {cls: 0.0 for cls in timed_classes}

    def timed(cls: type) -> Callable[..., Any]:
        def call(self: Any, trainer: Any) -> Any:
            start = time.perf_counter()
            try:
                return originals[cls](self, trainer)
            finally:
                spent[cls] += time.perf_counter() - start

        return call

    def training(native: bool) -> Callable[[], float]:
        def job() -> float:
            SETTINGS.update({"wandb": native})
            counted = containment.ContainedNative if native else bridge_callbacks.RankZeroCallback
            spent[counted] = 0.0
            with wandb_session(project="bench-training-logging") as s:
                model = YOLO("yolov8n.yaml")
                with s.handoff(model) as h:
                    h.train(**tiny_training_args(data_yaml, plots=True))
            return spent[counted]

        return job

    for cls in timed_classes:
        cls.__call__ = timed(cls)  # type: ignore[method-assign]
    try:
        bridge, native = interleaved(reps, training(False), training(True))
    finally:
        for cls, call in originals.items():
            cls.__call__ = call  # type: ignore[method-assign]
        SETTINGS.update({"wandb": False})
    ratio = median_ms(bridge) / median_ms(native)
    return [
        (
            "training W&B time (3 epochs, plots): bridge's callbacks, setting off",
            f"{median_ms(bridge):.0f} ms",
            f"Ultralytics' own W&B callback, setting on: {median_ms(native):.0f} ms (same training, same panels)",
            f"{ratio:.2f}x (goal <= 1.00)",
        )
    ]


def bench_import(reps: int) -> list[Row]:
    """(c) `import wandb_ddp_bridge` over a bare interpreter start; nothing heavy imported."""

    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    bare, imported = interleaved(max(reps, 5), lambda: run("pass"), lambda: run("import wandb_ddp_bridge"))
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, wandb_ddp_bridge; "
            "print(','.join(m for m in ('wandb','torch','ultralytics') if m in sys.modules) or 'none')",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    extra = median_ms(imported) - median_ms(bare)
    return [("import wandb_ddp_bridge", f"+{extra:.0f} ms", f"heavy modules imported: {heavy}", "goal < 50 ms, none")]


def _process_state() -> tuple[int, int, int, float]:
    # the in-process server's request threads and accepted sockets are not the bridge's: leave them out
    fds = sum(1 for fd in os.listdir("/proc/self/fd") if not _is_socket(fd))
    children = subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True, text=True).stdout.split()
    rss_kb = next(
        int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:")
    )
    threads = sum(1 for t in threading.enumerate() if "process_request" not in t.name)
    return threads, len(children), fds, rss_kb / 1024


def _is_socket(fd: str) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    except OSError:
        return True


def bench_steady_state(sessions: int = 20) -> list[Row]:
    """(e) 20 sequential sessions in one process: threads, child processes, fds, RSS."""
    with wandb_session(project="bench-steady") as s:  # warm-up: wandb starts its service once
        s.log({"x": 1})
    before = _process_state()
    for i in range(sessions):
        with wandb_session(project="bench-steady") as s:
            s.summary["i"] = i
            with s.handoff():
                pass
            s.log({"x": i})
    after = _process_state()
    return [
        (
            f"{sessions} sessions in a row",
            f"threads {before[0]}→{after[0]}, children {before[1]}→{after[1]}",
            f"fds {before[2]}→{after[2]}, RSS +{after[3] - before[3]:.1f} MB",
            "goal: no growth, RSS < 5 MB",
        )
    ]


def bench_failure_bounds() -> list[Row]:
    """(g) How long the failure paths take against their bounds (the tests assert behaviour, never time):
    server start, unreachable backend at start and at resume, the SIGTERM grace period, finish in an outage."""
    import signal
    import socket

    from wandb_ddp_bridge import BackendError, Terminated

    def dead_url() -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return f"http://127.0.0.1:{sock.getsockname()[1]}"

    def seconds(fn: Callable[[], Any]) -> float:
        start = time.perf_counter()
        with contextlib.suppress(BackendError, Terminated):
            fn()
        return time.perf_counter() - start

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as data:
        start = time.perf_counter()
        server = LocalWandbServer(data_dir=Path(data) / "start").start()
        started = time.perf_counter() - start
        server.stop()
    rows.append(("local server start", f"{started * 1000:.0f} ms", "goal < 500 ms", f"{started / 0.5:.2f}x of goal"))

    def at_start() -> None:
        wandb_session(project="bench-fail", base_url=dead_url(), api_key="x" * 40, init_timeout=3).__enter__()

    took = seconds(at_start)
    rows.append(
        (
            "backend unreachable at start (init_timeout=3)",
            f"{took:.1f} s",
            "BackendError naming the URL",
            f"{took / 3:.2f}x init_timeout",
        )
    )
    with tempfile.TemporaryDirectory() as data, LocalWandbServer(data_dir=data) as server:
        settings = {"base_url": server.base_url, "api_key": server.api_key, "dir": data}

        def at_resume() -> None:
            with wandb_session(project="bench-fail", init_timeout=2, resume_attempts=2, **settings) as s, s.handoff():
                server.faults.outage(120)

        took = seconds(at_resume)
        server.faults.clear()
        bound = 2 * 2 + 1  # attempts x init_timeout + the backoff between them
        rows.append(
            (
                "backend unreachable at resume (2 attempts x 2 s)",
                f"{took:.1f} s",
                "BackendError after the last attempt",
                f"{took / bound:.2f}x of attempts x timeout + backoff ({bound} s)",
            )
        )

        def sigterm_in_outage() -> None:
            with (
                wandb_session(
                    project="bench-fail", init_timeout=60, resume_grace_seconds=3, fast_path="never", **settings
                ) as s,
                s.handoff(),
            ):
                server.faults.outage(120)
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)

        took = seconds(sigterm_in_outage)
        server.faults.clear()
        rows.append(
            (
                "SIGTERM, backend down for the resume (grace 3 s, init_timeout 60 s)",
                f"{took:.1f} s",
                "Terminated; offline copy + `wandb sync` command",
                f"{took / 3:.2f}x grace (unbounded: 180 s)",
            )
        )
        # in a fresh process: wandb reads its retry budget from the environment once per process
        budget = {
            "WANDB__FILE_STREAM_RETRY_MAX": "2",
            "WANDB__FILE_STREAM_RETRY_WAIT_MIN_SECONDS": "1",
            "WANDB__FILE_STREAM_RETRY_WAIT_MAX_SECONDS": "1",
            "WANDB__GRAPHQL_RETRY_MAX": "2",
            "WANDB__GRAPHQL_RETRY_WAIT_MIN_SECONDS": "1",
            "WANDB__GRAPHQL_RETRY_WAIT_MAX_SECONDS": "1",
            "WANDB__FILE_TRANSFER_RETRY_MAX": "2",
            "WANDB_BASE_URL": server.base_url,
            "WANDB_API_KEY": server.api_key,
            "WANDB_DIR": data,
        }
        code = (
            "import sys\nfrom wandb_ddp_bridge import wandb_session\n"
            "with wandb_session(project='bench-fail') as s:\n"
            "    s.summary['x'] = 1\n    print('READY', flush=True)\n    sys.stdin.readline()\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"} | budget
        child = subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None and child.stdin is not None
        child.stdout.readline()
        server.faults.outage(120)
        start = time.perf_counter()
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(timeout=600)
        took = time.perf_counter() - start
        server.faults.clear()
        rows.append(
            (
                "finish during a 120 s outage (client retry budget 2)",
                f"{took:.1f} s",
                "returns once the client's own budget is spent",
                f"{took / 60:.2f}x of 60 s",
            )
        )
    return rows


#: The page benchmark's run: what a long training logs (goal: < 200 ms of server time, < 1 MB of HTML).
PAGE_EPOCHS, PAGE_METRICS = 1000, 20
PAGE_GOAL_MS, PAGE_GOAL_BYTES = 200.0, 1_000_000


def bench_page(reps: int) -> list[Row]:
    """(f) The run page of a 1,000-epoch x 20-metric run: server time to render it (evidence from the server's
    records, the checks, the HTML) and its size, also as served over HTTP."""
    import urllib.request

    from wandb_ddp_bridge.tools.report import run_page_path, server_pages
    from wandb_ddp_bridge.tools.report.charts import MAX_DRAWN

    families = ("train", "val", "metrics", "lr")
    keys = [f"{families[i % 4]}/metric_{i}" for i in range(PAGE_METRICS)]
    with tempfile.TemporaryDirectory() as data, LocalWandbServer(data_dir=data, pages=server_pages) as server:
        saved = dict(os.environ)
        os.environ.update(server.env())
        os.environ["WANDB_DIR"] = tempfile.mkdtemp(prefix="bench-page-")
        try:
            with wandb_session(project="bench-page", name="long-run") as s:
                s.save_config({"epochs": PAGE_EPOCHS})
                with s.handoff():
                    from wandb_ddp_bridge import attach, detach

                    run = attach()
                    assert run is not None
                    for epoch in range(1, PAGE_EPOCHS + 1):
                        run.log({"epoch": epoch, **{k: 1.0 / (epoch + i) for i, k in enumerate(keys)}})
                    detach()
                s.log({"post/score": 1.0})
        finally:
            os.environ.clear()
            os.environ.update(saved)
        path = server.runs()[0].path
        route = run_page_path(path)
        render: list[float] = []
        served: list[float] = []
        size = 0
        for _ in range(max(reps, 5)):
            start = time.perf_counter()
            page = server_pages(server, route)
            render.append(time.perf_counter() - start)
            assert page is not None and page.status == 200
            size = len(page.body)
            start = time.perf_counter()
            with urllib.request.urlopen(server.url + route) as response:
                response.read()
            served.append(time.perf_counter() - start)
    ms, http_ms = median_ms(render), median_ms(served)
    print(
        f"page: {ms:.0f} ms server time ({ms / PAGE_GOAL_MS:.2f} of the 200 ms goal), {size / 1e6:.2f} MB "
        f"({size / PAGE_GOAL_BYTES:.2f} of the 1 MB goal), {http_ms:.0f} ms over HTTP",
        file=sys.stderr,
    )
    return [
        (
            f"run page, {PAGE_EPOCHS:,} epochs x {PAGE_METRICS} metrics: server time",
            f"{ms:.0f} ms",
            f"served over HTTP {http_ms:.0f} ms (records read, checks, HTML)",
            f"{ms / PAGE_GOAL_MS:.2f} of goal < 200 ms",
        ),
        (
            f"run page, {PAGE_EPOCHS:,} epochs x {PAGE_METRICS} metrics: size",
            f"{size / 1e6:.2f} MB",
            f"charts downsampled to {MAX_DRAWN} points each",
            f"{size / PAGE_GOAL_BYTES:.2f} of goal < 1 MB",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--skip-yolo", action="store_true")
    parser.add_argument("--only", choices=["page", "failures", "checkpoints"], help="run only this benchmark")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--rows-json", type=Path, help=argparse.SUPPRESS)  # the full run reads checkpoints' rows
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("WANDB_SILENT", "true")
    if args.only == "checkpoints":
        with local_backend(spawned=True), tempfile.TemporaryDirectory() as tmp:
            checkpoint_rows = bench_checkpoints(args.reps, _dataset(Path(tmp)))
        if args.rows_json:
            args.rows_json.write_text(json.dumps(checkpoint_rows))
            return
        report = render(checkpoint_rows)
        print(report)
        if args.output:
            args.output.write_text(report)
        return
    if args.only is not None:
        report = render(bench_page(args.reps) if args.only == "page" else bench_failure_bounds())
        print(report)
        if args.output:
            args.output.write_text(report)
        return
    rows: list[Row] = []
    rows += bench_import(args.reps)
    rows += bench_page(args.reps)
    with local_backend():
        rows += bench_handoff(args.reps)
        if not args.skip_yolo:
            with tempfile.TemporaryDirectory() as tmp:
                data = _dataset(Path(tmp))
                rows += bench_callbacks(data)
                rows += bench_training_logging(max(1, args.reps // 2), data)
                rows += bench_whole_job(max(1, args.reps // 2), data)
        rows += bench_steady_state()
    if not args.skip_yolo:
        rows += checkpoint_rows_in_child(max(1, args.reps // 2))
    rows += bench_failure_bounds()
    report = render(rows)
    print(report)
    if args.output:
        args.output.write_text(report)


def checkpoint_rows_in_child(reps: int) -> list[Row]:
    """The checkpoint benchmark in a fresh process: it needs a W&B server in a process of its own, and this
    process's wandb settings already point at the in-process one."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        command = [sys.executable, "-m", "benchmarks", "--only", "checkpoints", "--reps", str(reps)]
        subprocess.run([*command, "--rows-json", str(out)], check=True)
        return [(a, b, c, d) for a, b, c, d in json.loads(out.read_text())]


def _dataset(tmp: Path) -> Path:
    """The synthetic detection dataset the YOLO benchmarks train on (Ultralytics' settings kept under ``tmp``)."""
    from wandb_ddp_bridge.tools.datasets import make_detection_dataset

    os.environ["YOLO_CONFIG_DIR"] = str(tmp)
    return make_detection_dataset(tmp / "data")


def render(rows: list[Row]) -> str:
    import wandb

    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m benchmarks` (medians of interleaved A/B repetitions, one run, local W&B server "
        "on loopback).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"wandb {wandb.__version__}, wandb-ddp-bridge {wandb_ddp_bridge.__version__}.",
        "",
        "| what | bridge | compared with | ratio / goal |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
