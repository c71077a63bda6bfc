"""``python -m wandb_ddp_bridge.testing --port P --data-dir D``: the local W&B server in the foreground."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from .server import LocalWandbServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wandb_ddp_bridge.testing", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: pick a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--data-dir", required=True, help="where the SQLite records live")
    parser.add_argument("--entity", default="local-entity", help="default entity for clients that send none")
    parser.add_argument("--crash-after", type=float, default=120.0, help="seconds of silence before 'crashed'")
    parser.add_argument(
        "--api-key",
        default=None,
        help="accepted API key (default: $WANDB_LOCAL_SERVER_API_KEY, else a new one printed at start)",
    )
    args = parser.parse_args(argv)
    api_key = args.api_key or os.environ.get("WANDB_LOCAL_SERVER_API_KEY")
    server = LocalWandbServer(
        args.data_dir, args.port, args.host, args.entity, api_key, crash_after=args.crash_after
    ).start()
    stopped = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if api_key is None:
        print(f"api key {server.api_key}", flush=True)
    print(f"listening on {server.url}", flush=True)
    stopped.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
