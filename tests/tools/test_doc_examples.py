"""Documented claims, tried as a user would: the testing page's example runs as written, and the README names
the runtime dependencies pyproject.toml declares."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _blocks(page: str, first_line: str) -> str:
    text = (ROOT / "docs" / page).read_text()
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        if block.startswith(first_line):
            return str(block)
    raise AssertionError(f"docs/{page} has no python block starting with {first_line!r}")


@pytest.mark.slow
def test_the_testing_pages_example_runs_as_written(tmp_path: Path) -> None:
    pytest.importorskip("ultralytics")
    (tmp_path / "train.py").write_text(_blocks("testing.md", "# train.py"))
    (tmp_path / "test_train.py").write_text(_blocks("testing.md", "# test_train.py"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_train.py"],
        cwd=tmp_path,
        env={**env, "YOLO_OFFLINE": "true"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout, done.stdout[-3000:]


def test_the_readme_names_every_runtime_dependency() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    declared = re.search(r"^dependencies = \[(.*?)\]", pyproject, flags=re.M | re.S)
    assert declared is not None
    specs = re.findall(r'"([^"]+)"', declared.group(1))
    line = next(ln for ln in (ROOT / "README.md").read_text().split("\n\n") if "Runtime dependencies" in ln)
    assert all(f"`{spec}`" in line for spec in specs), (specs, line)
