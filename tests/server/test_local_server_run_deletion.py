"""``deleteRun`` on the local server, as ``wandb.Api``'s ``Run.delete`` sends it: the run and what it wrote are
gone from the records and from lookups, its artifacts stay, and what the server does not do is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import deleted_runs

from wandb_ddp_bridge.testing import LocalWandbServer

wandb = pytest.importorskip("wandb")


def test_a_deleted_run_is_gone_and_its_artifacts_stay(wandb_server: LocalWandbServer, tmp_path: Path) -> None:
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights")
    run = wandb.init(project="deletion", id="doomed")
    art = wandb.Artifact("kept-model", type="model")
    art.add_file(str(weights), name="w.pt")
    run.log_artifact(art).wait()
    run.log({"x": 1})
    run.finish()
    keeper = wandb.init(project="deletion", id="keeper")
    keeper.finish()
    api = wandb.Api()
    doomed = api.run(f"{run.entity}/deletion/doomed")
    with pytest.raises(Exception, match="deleteArtifacts is not supported"):
        doomed.delete(delete_artifacts=True)
    doomed.delete()

    assert [r.id for r in wandb_server.runs(project="deletion")] == ["keeper"]
    assert deleted_runs(wandb_server) == [f"{run.entity}/deletion/doomed"]
    assert api.artifact_exists(f"{run.entity}/deletion/kept-model:v0")
    with pytest.raises(Exception, match="no run with id"):
        doomed.delete()  # the same storage id again: nothing left to delete
