"""``deleteArtifact`` on the local server, as ``wandb.Api``'s ``Artifact.delete`` sends it: refused while the
version has aliases (unless ``delete_aliases``), then gone from the records and from lookups."""

from __future__ import annotations

from pathlib import Path

import pytest

from wandb_ddp_bridge.testing import LocalWandbServer

wandb = pytest.importorskip("wandb")


def test_a_deleted_version_is_gone_and_an_aliased_one_needs_delete_aliases(
    wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    run = wandb.init(project="deletion", id="deleter")
    for index in range(2):
        weights = tmp_path / f"w{index}.pt"
        weights.write_bytes(f"weights {index}".encode())
        art = wandb.Artifact("ckpt", type="model")
        art.add_file(str(weights), name="last.pt")
        run.log_artifact(art, aliases=[f"epoch-{index}"]).wait()
    run.finish()
    api = wandb.Api()
    path = f"{run.entity}/deletion/ckpt"
    with pytest.raises(Exception, match="has aliases"):
        api.artifact(f"{path}:v0").delete()
    api.artifact(f"{path}:v0").delete(delete_aliases=True)

    assert not api.artifact_exists(f"{path}:v0") and not api.artifact_exists(f"{path}:epoch-0")
    assert api.artifact(f"{path}:latest").version == "v1"
    left = [a.qualified_name for a in wandb_server.run(f"{run.entity}/deletion/deleter").artifacts]
    assert left == ["ckpt:v1"]
