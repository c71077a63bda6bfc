#!/usr/bin/env bash
# The GPU check as one prepared command for a lent GPU machine (the workplace's `device` tool), which has
# torch but neither wandb nor Ultralytics, and no network: both travel as wheels in .whl/ (ignored by git;
# tests/gpu/README.md says how to fetch them). Runs tests/gpu/cuda_end_to_end.py twice: every scenario on the
# main Ultralytics release in .whl/, then the in-process scenarios on the oldest supported release in
# .whl/ul830/. Results and logs go to $OUT (the device tool's return folder), else /tmp/gpu-check-out.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu-check-out}
mkdir -p "$OUT"
install() {  # $1: target folder, then the wheels
  local target=$1; shift
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$target" "$@"
}
install /tmp/site .whl/*.whl || { echo "could not install the carried wheels" >&2; exit 3; }
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 YOLO_OFFLINE=1 WANDB_SILENT=true
nvidia-smi -L
main_release=$(ls .whl/ultralytics-8*.whl | sed 's/.*ultralytics-\([0-9.]*\)-.*/\1/')
timeout 360 python3 tests/gpu/cuda_end_to_end.py --out "$OUT" --label="-ul$main_release" 2>&1 | tee "$OUT/log-ul$main_release.txt"
rc_main=${PIPESTATUS[0]}
rc_old=skipped
if ls .whl/ul830/*.whl >/dev/null 2>&1; then
  install /tmp/site-old .whl/ul830/*.whl || exit 3
  PYTHONPATH=/tmp/site-old:$PYTHONPATH timeout 150 python3 tests/gpu/cuda_end_to_end.py --out "$OUT" \
    --label=-ul8.3.0 --only in-process,handoff 2>&1 | tee "$OUT/log-ul8.3.0.txt"
  rc_old=${PIPESTATUS[0]}
fi
echo "GPU check exit codes: Ultralytics $main_release: $rc_main; Ultralytics 8.3.0: $rc_old"
exit "$rc_main"
