"""The unmodified wandb SDK against the local server: each client runs in its own interpreter."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_server_clients import gql, run_client, start_client

from wandb_ddp_bridge.testing import LocalWandbServer

pytest.importorskip("wandb")

LOG_ROWS = """
import sys, wandb
run = wandb.init(project="p", entity="e", id=sys.argv[1], config={"lr": 0.1, "nested": {"a": 1}})
for i in range(int(sys.argv[2])):
    run.log({"x": i, "who": sys.argv[1]})
run.config.update({"bs": 4})
run.finish()
"""
RESUME_MUST = """
import sys, wandb
run = wandb.init(project="p", entity="e", id=sys.argv[1], resume="must")
print(run.starting_step)
for i in range(2):
    run.log({"x": 100 + i})
run.finish()
"""
# wandb-core truncates these to whole seconds (time.Second * time.Duration(x)): 0.5 means "default".
FAST_RETRIES = {
    "WANDB__FILE_STREAM_RETRY_WAIT_MIN_SECONDS": "1",
    "WANDB__FILE_STREAM_RETRY_WAIT_MAX_SECONDS": "1",
}


def test_init_log_finish_records_history_summary_config_and_exit_code(wandb_server: LocalWandbServer) -> None:
    run_client(LOG_ROWS, "r1", "3")
    [run] = wandb_server.runs()
    assert run.path == "e/p/r1"
    assert run.steps == [0, 1, 2] and [row["x"] for row in run.history] == [0, 1, 2]
    assert run.summary["x"] == 2 and run.summary["_step"] == 2
    assert run.config == {"lr": 0.1, "nested": {"a": 1}, "bs": 4}
    assert run.state == "finished" and run.created_count == 1 and run.resumed_count == 0
    [session] = run.sessions
    assert (session.resume_mode, session.created, session.complete, session.exit_code) == (
        "none",
        True,
        True,
        0,
    )
    assert session.user_agent == "wandb-core" and session.client_host and not run.overlapping
    assert {"wandb-summary.json", "config.yaml"} <= {f.name for f in run.files if f.uploaded}
    assert wandb_server.unknown_operations == [] and wandb_server.events("server_error") == []
    assert wandb_server.api_key not in wandb_server.all_received_text()


def test_resume_must_continues_the_step_in_a_new_session(wandb_server: LocalWandbServer) -> None:
    run_client(LOG_ROWS, "r1", "3")
    assert run_client(RESUME_MUST, "r1").strip() == "3"
    run = wandb_server.run("r1")
    assert run.steps == [0, 1, 2, 3, 4] and [r["x"] for r in run.history] == [0, 1, 2, 100, 101]
    assert [(s.index, s.resume_mode, s.created, s.exit_code) for s in run.sessions] == [
        (0, "none", True, 0),
        (1, "must", False, 0),
    ]
    first, second = run.sessions
    assert first.ended is not None and first.ended <= second.started
    assert (run.created_count, run.resumed_count, run.overlapping) == (1, 1, False)
    assert run.config["lr"] == 0.1 and run.summary["x"] == 101


def test_resume_must_of_a_missing_run_raises_the_clients_usage_error(wandb_server: LocalWandbServer) -> None:
    out = run_client(
        """
        import wandb
        try:
            wandb.init(project="p", entity="e", id="nope123", resume="must")
        except wandb.errors.UsageError as exc:
            print("UsageError", "nope123" in str(exc))
        """
    )
    assert out.split() == ["UsageError", "True"]
    assert wandb_server.runs() == []
    operations = [r.operation for r in wandb_server.requests]
    assert "RunResumeStatus" in operations and "UpsertBucket" not in operations


def test_nonzero_exit_code_is_recorded_and_the_run_is_failed(wandb_server: LocalWandbServer) -> None:
    run_client(
        """
        import wandb
        run = wandb.init(project="p", id="bad")   # no entity: the client adopts the server's default
        run.log({"x": 1})
        run.finish(exit_code=1)
        """
    )
    run = wandb_server.run("local-entity/p/bad")
    assert run.state == "failed" and run.sessions[-1].exit_code == 1 and run.sessions[-1].complete


def test_two_writers_of_one_run_at_the_same_time_are_flagged_overlapping(
    wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    go, up = tmp_path / "go", tmp_path / "up"
    first = start_client(
        """
        import pathlib, sys, time, wandb
        run = wandb.init(project="p", entity="e", id="dup")
        run.log({"writer": 1})
        pathlib.Path(sys.argv[1]).touch()
        while not pathlib.Path(sys.argv[2]).exists():
            time.sleep(0.05)
        run.log({"writer": 1})
        run.finish()
        """,
        str(up),
        str(go),
    )
    try:
        deadline = time.monotonic() + 60
        while not up.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        run_client(
            """
            import wandb
            run = wandb.init(project="p", entity="e", id="dup", resume="allow")
            run.log({"writer": 2})
            run.finish()
            """
        )
    finally:
        go.touch()
        _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err[-3000:]
    run = wandb_server.run("dup")
    assert run.overlapping and [s.overlapping for s in run.sessions] == [True, True]
    assert [e.kind for e in wandb_server.events()] == ["overlapping_sessions"]


def test_eight_processes_write_eight_runs_concurrently_without_mixing_rows(
    wandb_server: LocalWandbServer,
) -> None:
    procs = [start_client(LOG_ROWS, f"w{i}", "5") for i in range(8)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
    runs = wandb_server.runs()
    assert sorted(r.id for r in runs) == [f"w{i}" for i in range(8)]
    for run in runs:
        assert run.steps == [0, 1, 2, 3, 4], run.history
        assert {row["who"] for row in run.history} == {run.id}
        assert run.state == "finished" and len(run.sessions) == 1 and not run.overlapping


def test_file_stream_500s_are_retried_by_the_client_and_no_row_is_lost(
    wandb_server: LocalWandbServer,
) -> None:
    wandb_server.faults.add("file_stream", status=500, times=3)
    run_client(LOG_ROWS, "flaky", "5", env=FAST_RETRIES)
    run = wandb_server.run("flaky")
    assert run.steps == [0, 1, 2, 3, 4] and run.state == "finished"
    failed = [r for r in wandb_server.requests if r.operation == "file_stream" and r.status == 500]
    assert len(failed) == 3 and all(r.fault == "rule(op=file_stream,status=500)" for r in failed)


def test_records_survive_a_restart_and_still_answer_the_resume_probe(wandb_server: LocalWandbServer) -> None:
    run_client(LOG_ROWS, "r1", "3")
    port = wandb_server.port
    wandb_server.stop()
    assert LocalWandbServer(wandb_server.data_dir).run("e/p/r1").steps == [0, 1, 2]
    wandb_server.restart()
    assert wandb_server.port == port
    query = """query RunResumeStatus($project: String, $entity: String, $name: String!) {
      model(name: $project, entityName: $entity) { bucket(name: $name, missingOk: true) {
        historyLineCount historyTail wandbConfig(keys: ["t"]) } } }"""
    status, body = gql(wandb_server, query, {"project": "p", "entity": "e", "name": "r1"})
    bucket = body["data"]["model"]["bucket"]
    assert status == 200 and bucket["historyLineCount"] == 3 and "t" in json.loads(bucket["wandbConfig"])
    assert json.loads(json.loads(bucket["historyTail"])[-1])["_step"] == 2


# -- artifacts and the public API: one client run, several assertions ---------------------------

ARTIFACTS_AND_API = """
import json, os, sys, wandb
root = sys.argv[1]
os.makedirs(f"{root}/d/sub", exist_ok=True)
open(f"{root}/model.bin", "wb").write(b"m" * 900)
open(f"{root}/d/a.txt", "w").write("a")
open(f"{root}/d/sub/b.txt", "w").write("b")

run = wandb.init(project="p", entity="e", id="arts", config={"lr": 0.5})
for i in range(3):
    run.log({"loss": 1.0 / (i + 1)})
model = wandb.Artifact("my-model", type="model")
model.add_file(f"{root}/model.bin")
run.log_artifact(model, aliases=["best"])
data = wandb.Artifact("my-data", type="dataset")
data.add_dir(f"{root}/d")
run.log_artifact(data)
ref = wandb.Artifact("refs", type="dataset")
ref.add_reference("s3://my-bucket/path/key.bin", checksum=False)
run.log_artifact(ref).wait()
again = wandb.Artifact("my-model", type="model")
again.add_file(f"{root}/model.bin")
run.log_artifact(again).wait()
run.finish()

api = wandb.Api(api_key=os.environ["WANDB_API_KEY"], overrides={"base_url": os.environ["WANDB_BASE_URL"]})
r = api.run("e/p/arts")
print(json.dumps({
    "state": r.state,
    "config": dict(r.config),
    "summary_loss": r.summary["loss"],
    "history": [row["_step"] for row in r.scan_history()],
    "artifacts": sorted([a.name, sorted(a.aliases)] for a in r.logged_artifacts()),
    "runs": [x.id for x in api.runs("e/p")],
}))
"""


@pytest.fixture(scope="module")
def artifact_scenario(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalWandbServer, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("artifacts")
    with LocalWandbServer(root / "server") as server, pytest.MonkeyPatch.context() as mp:
        for name, value in server.env().items():
            mp.setenv(name, value)
        mp.setenv("WANDB_DIR", str(root))
        mp.setenv("WANDB_CONFIG_DIR", str(root / "config"))
        mp.setenv("WANDB_CACHE_DIR", str(root / "cache"))
        out = run_client(ARTIFACTS_AND_API, str(root), timeout=180)
        yield server, json.loads(out.strip().splitlines()[-1])


def _artifacts(server: LocalWandbServer) -> dict[str, Any]:
    return {a.qualified_name: a for a in server.run("e/p/arts").artifacts}


def test_file_and_directory_artifacts_are_committed_with_their_entries(
    artifact_scenario: tuple[LocalWandbServer, dict[str, Any]],
) -> None:
    server, _ = artifact_scenario
    arts = _artifacts(server)
    model, data = arts["my-model:v0"], arts["my-data:v0"]
    assert (model.type, model.state, set(model.aliases)) == ("model", "COMMITTED", {"best", "latest"})
    assert model.entry("model.bin").size == 900 and model.uploaded_files == ("model.bin",)
    assert sorted(e.path for e in data.entries) == ["a.txt", "sub/b.txt"]
    assert sorted(data.uploaded_files) == ["a.txt", "sub/b.txt"] and data.state == "COMMITTED"
    assert model.run_path == data.run_path == "e/p/arts" and model.session_index == 0


def test_s3_reference_artifact_is_committed_with_its_reference_entry(
    artifact_scenario: tuple[LocalWandbServer, dict[str, Any]],
) -> None:
    server, _ = artifact_scenario
    refs = _artifacts(server)["refs:v0"]
    entry = refs.entry("path/key.bin")
    assert refs.state == "COMMITTED" and refs.uploaded_files == ()
    assert (entry.ref, entry.digest, entry.size) == (
        "s3://my-bucket/path/key.bin",
        "s3://my-bucket/path/key.bin",
        0,
    )


def test_relogging_identical_content_creates_no_new_version(
    artifact_scenario: tuple[LocalWandbServer, dict[str, Any]],
) -> None:
    server, _ = artifact_scenario
    assert sorted(_artifacts(server)) == ["my-data:v0", "my-model:v0", "refs:v0"]
    creates = [r for r in server.requests if r.operation == "CreateArtifact"]
    commits = [r for r in server.requests if r.operation == "CommitArtifact"]
    assert len(creates) == 4 and len(commits) == 3


def test_an_uploaded_file_is_among_what_the_server_received_once(
    artifact_scenario: tuple[LocalWandbServer, dict[str, Any]],
) -> None:
    """Uploads are kept once (with the upload, not again with the request), and the text scans that look for
    leaked secrets still read them, exactly once."""
    server, _ = artifact_scenario
    assert server.all_received_text().count("m" * 900) == 1
    puts = [r for r in server.requests if r.method == "PUT" and r.path.startswith("/upload/")]
    assert 900 in [r.body_size for r in puts]


def test_wandb_api_reads_config_summary_state_history_and_artifacts(
    artifact_scenario: tuple[LocalWandbServer, dict[str, Any]],
) -> None:
    server, seen = artifact_scenario
    assert seen["state"] == "finished" and seen["config"] == {"lr": 0.5}
    assert seen["summary_loss"] == pytest.approx(1 / 3) and seen["history"] == [0, 1, 2]
    assert seen["artifacts"] == [
        ["my-data:v0", ["latest"]],
        ["my-model:v0", ["best", "latest"]],
        ["refs:v0", ["latest"]],
    ]
    assert seen["runs"] == ["arts"]
    assert server.unknown_operations == [] and server.events("server_error") == []
    assert os.environ.get("WANDB_BASE_URL") != server.url  # the module fixture restored the environment


ARTIFACT_AND_API = """
import os, sys, wandb
run = wandb.init(project="p", entity="e", id=sys.argv[1])
with open(os.path.join(sys.argv[2], "w.bin"), "wb") as f:
    f.write(b"w" * 64)
art = wandb.Artifact("weights", type="model")
art.add_file(os.path.join(sys.argv[2], "w.bin"))
run.log_artifact(art, aliases=["best"]).wait()
run.finish()
api = wandb.Api(api_key=os.environ["WANDB_API_KEY"], overrides={"base_url": os.environ["WANDB_BASE_URL"]})
r = api.run(f"e/p/{sys.argv[1]}")
names = sorted(f.name for f in r.files())
r.file("wandb-summary.json").download(root=sys.argv[2], replace=True, exist_ok=True)  # what verify --html does
downloaded = os.path.isfile(os.path.join(sys.argv[2], "wandb-summary.json"))
print(len(list(r.scan_history())), [a.name for a in r.logged_artifacts()], [x.id for x in api.runs("e/p")])
print("files", "wandb-summary.json" in names, downloaded)
"""


def _graphql_documents(server: LocalWandbServer) -> list[str]:
    """The query text of every GraphQL request the server received (other bodies are skipped)."""
    documents = []
    for text in server.iter_received_text():
        try:
            payload = json.loads(text)
        except ValueError:
            continue
        if isinstance(payload, dict) and isinstance(payload.get("query"), str):
            documents.append(payload["query"])
    return documents


def test_every_graphql_document_a_client_session_sends_validates_against_the_schema(
    wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    from graphql import build_schema, parse, validate

    from wandb_ddp_bridge.testing.graphql.schema import sdl

    run_client(LOG_ROWS, "v1", "3")
    assert run_client(RESUME_MUST, "v1").strip() == "3"
    out = run_client(ARTIFACT_AND_API, "v2", str(tmp_path))
    assert out.split()[0] == "0" and "'weights:v0'" in out and "'v1'" in out and "'v2'" in out
    assert out.splitlines()[-1] == "files True True"  # the run's files listed and one downloaded
    documents = _graphql_documents(wandb_server)
    operations = {r.operation for r in wandb_server.requests if r.path == "/graphql"}
    assert {"UpsertBucket", "RunResumeStatus", "CreateArtifact", "CommitArtifact", "Runs"} <= operations
    schema = build_schema(sdl())
    invalid = {doc[:200]: [e.message for e in validate(schema, parse(doc))] for doc in documents}
    assert {doc: errors for doc, errors in invalid.items() if errors} == {}
    for kind in ("invalid_graphql", "bad_graphql", "unknown_operation", "server_error"):
        assert wandb_server.events(kind) == [], kind
    assert all(r.status == 200 for r in wandb_server.requests if r.path == "/graphql")
