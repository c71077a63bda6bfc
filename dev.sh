#!/usr/bin/env bash
# One entry point for newcomers and CI: builds (and caches) the virtual environment, then runs a task.
#
#   bash dev.sh demo            # the three-phase demo on the embedded local W&B server
#   bash dev.sh test            # the test suite (what CI runs)
#   bash dev.sh nox -s lint typecheck tests docs
#   bash dev.sh shell           # a shell inside the environment
#
# The venv lives outside the checkout, keyed by a hash of the dependency spec, so a clean clone reuses it.
# torch is pinned HERE only (the library itself leaves torch to its users).
set -euo pipefail
cd "$(dirname "$0")"

TORCH_PINS="torch==2.14.1 torchvision==0.29.1"
EXTRAS="test,dev,docs"
# only the dependency spec counts: editing anything else in pyproject.toml keeps the venv
DEPS=$(python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(p["dependencies"], sorted(p["optional-dependencies"].items()))')
SPEC_HASH=$( (echo "$DEPS"; echo "$TORCH_PINS $EXTRAS"; python3 --version) | sha256sum | cut -c1-16)
VENV="${WDB_VENV_ROOT:-$HOME/.cache/wandb-ddp-bridge}/venv-$SPEC_HASH"

if [ ! -x "$VENV/.ready" ]; then
  echo "dev.sh: creating $VENV (first run downloads/installs torch, ultralytics, wandb: a few minutes)" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q $TORCH_PINS
  "$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"
  printf '#!/bin/sh\n' > "$VENV/.ready" && chmod +x "$VENV/.ready"
fi
# the checkout may move (CI clones elsewhere): point the editable install at this one, unless it already does
# (-I: the checkout itself must not be on the path for this test; CI runs two dev.sh tasks at once)
if ! "$VENV/bin/python" -I -c 'import os, sys, wandb_ddp_bridge as m; sys.exit(os.path.dirname(os.path.dirname(m.__file__)) != sys.argv[1])' "$PWD" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1 \
    || "$VENV/bin/python" -m pip install -q --no-deps -e .
fi
export PATH="$VENV/bin:$PATH" YOLO_OFFLINE=1
# the browser tests drive the system Chromium (a Debian package: Playwright downloads no browser)
if [ "$(id -u)" = 0 ] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "dev.sh: installing chromium for the browser tests (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

task="${1:-help}"; shift || true
case "$task" in
  demo)  exec wandb-ddp-bridge demo "$@" ;;
  test)
    set +e
    # three workers on two cores, each taking whole test files (module fixtures built once): many tests wait on
    # wandb-core, the server or a retry, so a third worker fills those waits (measured on the 2-core CI machine:
    # 599 s with two, 541 s with three). BRIDGE_TEST_WORKERS=0: serial. The 25 slowest tests are listed at the
    # end, to keep CI within its 15 minutes.
    python -m pytest -q -n "${BRIDGE_TEST_WORKERS:-3}" --dist loadfile --durations=25 "$@"
    rc=$?
    set -e
    if [ "$rc" -eq 5 ]; then echo "dev.sh: pytest collected no tests" >&2; exit 1; fi
    exit "$rc" ;;
  nox)   exec nox --no-venv "$@" ;;
  shell) exec "${SHELL:-bash}" ;;
  *)     sed -n '2,9p' "$0"; exit 2 ;;
esac
