"""Checks before you stop: `bash dev.sh nox -s lint typecheck tests docs`.

The sessions run inside dev.sh's cached environment (`--no-venv`): torch is 5 GB and is installed once.
`compat` and `wandb_compat` build their own small venvs that reuse that torch through a .pth file.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import nox

from wandb_ddp_bridge.integrations.ultralytics import releases

nox.options.sessions = ["lint", "typecheck", "tests"]
ROOT = Path(__file__).parent
CACHE = Path(os.environ.get("WDB_VENV_ROOT", Path.home() / ".cache" / "wandb-ddp-bridge"))
# the compat matrix lives with the other per-release facts (importing it imports no framework)
ULTRALYTICS_RELEASES = list(releases.COMPAT_MATRIX)
WANDB_RELEASES = ["0.19.11", "0.31.0"]


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    paths = ("wandb_ddp_bridge", "tests", "examples", "benchmarks", "noxfile.py")
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)
    session.run("lint-imports")  # the layer contracts in pyproject.toml [tool.importlinter]


@nox.session(venv_backend="none")
def typecheck(session: nox.Session) -> None:
    session.run("mypy", "-p", "wandb_ddp_bridge")


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session(venv_backend="none")
def docs(session: nox.Session) -> None:
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site"), env={"NO_MKDOCS_2_WARNING": "1"})


# Three workers by whole file, as `dev.sh test`: on the 2-core CI machine most of these tests wait on the SDK
# and the server (wandb_compat: 119 s against 145 s with two workers).
XDIST_WORKERS = ("-n", "3", "--dist", "loadfile")

# What `compat` runs against each release: the Ultralytics suite and the restarts that train a real model.
ULTRALYTICS_TESTS = ("tests/ultralytics", "tests/restarts/test_restarts_training.py")

# Imports of old releases that newer ones (and so the dev venv) no longer need; installed --no-deps.
# 8.3.199 and 8.3.253 draw results.png (plots=True, the panel tests) with scipy.ndimage; 8.4.139 and later do not.
ULTRALYTICS_EXTRA = {
    "8.3.0": ["tqdm", "pandas", "seaborn", "scipy", "py-cpuinfo", "ultralytics-thop"],
    "8.3.199": ["scipy"],
    "8.3.253": ["scipy"],
}


def _overlay_venv(session: nox.Session, name: str, *packages: str) -> str:
    """A venv holding only ``packages``, seeing the dev venv's site-packages (torch etc.) behind it. Keyed by
    that dev venv, so a rebuilt dev venv gets fresh overlays instead of ones pointing at a deleted one."""
    base = next(p for p in sys.path if p.endswith("site-packages"))
    venv = CACHE / f"overlay-{name}-{hashlib.sha256(base.encode()).hexdigest()[:8]}"
    python = venv / "bin" / "python"
    if not python.exists():
        session.run(sys.executable, "-m", "venv", str(venv), external=True)
        site = next((venv / "lib").glob("python3*/site-packages"))
        (site / "_dev_venv.pth").write_text(base + "\n")
    # every time (a no-op once satisfied): a cached overlay picks up extras added since it was built
    session.run(str(python), "-m", "pip", "install", "-q", "--no-deps", *packages, external=True)
    # the checkout may move (CI clones elsewhere): point the editable install at this one
    session.run(str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT), external=True)
    return str(python)


@nox.session(venv_backend="none")
@nox.parametrize("release", ULTRALYTICS_RELEASES)
def compat(session: nox.Session, release: str) -> None:
    """The Ultralytics tests (in-process and DDP end to end) against one release."""
    python = _overlay_venv(
        session, f"ultralytics-{release}", f"ultralytics=={release}", *ULTRALYTICS_EXTRA.get(release, [])
    )
    # xdist comes from the dev venv behind the overlay
    tests = (*XDIST_WORKERS, *ULTRALYTICS_TESTS, *session.posargs)
    session.run(python, "-m", "pytest", "-q", "-rs", *tests, external=True)


# What wandb_compat needs besides wandb (no torch, no Ultralytics), and the reliability tests it runs too: the
# unwinding of every transition, the property state machine (CI budget) and the propagation to children.
WANDB_COMPAT_TEST_DEPS = (
    "pytest",
    "pytest-mock",
    "pytest-timeout",
    "pytest-xdist",  # three workers, as `dev.sh test`: these tests mostly wait on the SDK and the server
    "boto3",
    "pyyaml",
    "omegaconf",
    "hypothesis>=6.100",
    "graphql-core>=3.2",
    "packaging>=22",  # the package's own dependencies besides wandb (installed --no-deps)
)
# The server, the session and the handoff (no torch), the pure restart logic, and these reliability tests.
WANDB_COMPAT_TESTS = (
    "tests/server",
    "tests/session",
    "tests/handoff",
    "tests/restarts/test_restarts.py",
    "tests/restarts/test_preemption.py",
)
WANDB_COMPAT_RELIABILITY = (
    "tests/reliability/test_unwinding.py",
    "tests/reliability/test_properties.py",
    "tests/reliability/test_propagation.py",
)


@nox.session(venv_backend="none")
@nox.parametrize("release", WANDB_RELEASES)
def wandb_compat(session: nox.Session, release: str) -> None:
    """The local server and core tests against one wandb client release (its own venv: wandb pins its
    protobuf, so it cannot borrow the dev venv's packages; these tests need no torch)."""
    venv = CACHE / f"wandb-{release}"
    python = venv / "bin" / "python"
    if not python.exists():
        session.run(sys.executable, "-m", "venv", str(venv), external=True)
    # every time (a no-op once satisfied): a cached venv picks up test dependencies added since it was built
    session.run(str(python), "-m", "pip", "install", "-q", f"wandb=={release}", *WANDB_COMPAT_TEST_DEPS, external=True)
    session.run(str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT), external=True)
    session.run(
        str(python),
        "-m",
        "pytest",
        "-q",
        *XDIST_WORKERS,
        *WANDB_COMPAT_TESTS,
        *WANDB_COMPAT_RELIABILITY,
        *session.posargs,
        external=True,
    )


@nox.session(venv_backend="none")
def properties(session: nox.Session) -> None:
    """The Hypothesis state machine (tests/reliability/test_properties.py) with its thorough budget; the counts
    run are printed and written to build/property-report.json (docs/reliability.md quotes them)."""
    report = ROOT / "build" / "property-report.json"
    report.parent.mkdir(exist_ok=True)
    report.unlink(missing_ok=True)
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-s",
        "-p",
        "no:cacheprovider",
        "tests/reliability/test_properties.py",
        "--timeout",
        "3600",
        *session.posargs,
        env={"BRIDGE_HYPOTHESIS_PROFILE": "thorough", "BRIDGE_PROPERTY_REPORT": str(report)},
    )


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    session.run("python", "-m", "benchmarks", *session.posargs)
