"""A forked child of a process that runs the local server (a DataLoader worker, a launcher) exits without
touching the parent's server: its store stays, and the parent keeps serving and recording."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import base64, json, os, sys, urllib.request
    from wandb_ddp_bridge.testing import LocalWandbServer

    server = LocalWandbServer().start()          # a temporary data dir this server owns
    data_dir = server.data_dir
    pid = os.fork()
    if pid == 0:
        server.stop()                            # a child that tidies up as it was taught
        sys.exit(0)                              # a normal exit: atexit and finalizers run in the child
    _, status = os.waitpid(pid, 0)
    store_kept = os.path.isdir(data_dir) and bool(os.listdir(data_dir))
    auth = "Basic " + base64.b64encode(f"api:{server.api_key}".encode()).decode()
    request = urllib.request.Request(
        server.url + "/graphql", data=json.dumps({"query": "{ viewer { entity } }"}).encode(),
        headers={"Authorization": auth, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        answer = json.loads(reply.read())
    server.stop()
    print(json.dumps({"child_status": status, "store_kept": store_kept, "answer": answer}))
    """
)


def test_a_forked_child_that_exits_normally_leaves_the_parents_server_alone() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["child_status"] == 0
    assert result["store_kept"], "the child removed the parent's store"
    assert result["answer"] == {"data": {"viewer": {"entity": "local-entity"}}}
