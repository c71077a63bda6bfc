"""The local W&B server at the HTTP level: lifecycle, auth, dispatch, records and faults (no wandb SDK)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from local_server_clients import gql, post

from wandb_ddp_bridge.testing import LocalWandbServer

UPSERT = """mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String,
  $config: JSONString,
  $host: String, $program: String) {
  upsertBucket(input: {id: $id, name: $name, modelName: $project, entityName: $entity, config: $config,
                       host: $host, jobProgram: $program}) {
    bucket { id name project { name entity { name } } historyLineCount }
    inserted
  }
}"""
RESUME_STATUS = """query RunResumeStatus($project: String, $entity: String, $name: String!) {
  model(name: $project, entityName: $entity) {
    id name entity { id name }
    bucket(name: $name, missingOk: true) {
      id name summaryMetrics displayName logLineCount historyLineCount eventsLineCount historyTail eventsTail
      config tags notes wandbConfig(keys: ["t"])
    }
  }
}"""
WANDB_CONFIG = json.dumps({"lr": {"value": 0.5}, "_wandb": {"value": {"t": {"1": [1]}, "cli_version": "0.31.0"}}})


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalWandbServer]:
    with LocalWandbServer(tmp_path / "data") as srv:
        yield srv


def _new_run(server: LocalWandbServer, run_id: str = "r1", config: str | None = WANDB_CONFIG) -> dict[str, Any]:
    status, body = gql(
        server,
        UPSERT,
        {"name": run_id, "project": "p", "entity": "e", "config": config, "host": "h", "program": "x"},
    )
    assert status == 200, body
    return dict(body["data"]["upsertBucket"])


def _stream(server: LocalWandbServer, run_id: str, payload: dict[str, Any], **kw: Any) -> tuple[int, Any]:
    return post(server, f"/files/e/p/{run_id}/file_stream", payload, **kw)


def test_starts_on_an_ephemeral_port_and_stops_twice(tmp_path: Path) -> None:
    # how fast it starts: benchmarks (`python -m benchmarks --only failures`)
    server = LocalWandbServer(tmp_path / "data")
    server.start()
    try:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}" == server.base_url
        assert len(server.api_key) == 40
        assert server.env()["WANDB_BASE_URL"] == server.url
    finally:
        server.stop()
    server.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=1):
        pass


def test_package_import_stays_light() -> None:
    code = (
        "import sys, wandb_ddp_bridge.testing, wandb_ddp_bridge.testing.pytest_plugin;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('wandb', 'torch', 'ultralytics')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_operation_is_rejected_with_its_name_and_recorded(server: LocalWandbServer) -> None:
    status, body = gql(server, "query LaunchTheRockets { rockets { id } }")
    assert status == 400
    assert "LaunchTheRockets" in body["errors"][0]["message"]
    [event] = server.unknown_operations
    assert event.operation == "LaunchTheRockets" and event.detail["root_fields"] == ["rockets"]
    assert server.requests[-1].status == 400 and server.requests[-1].operation == "LaunchTheRockets"


def test_wrong_or_missing_api_key_is_refused_and_recorded(server: LocalWandbServer) -> None:
    status, _ = gql(server, "query Viewer { viewer { id } }", key="0" * 40)
    assert status == 401
    assert _stream(server, "r1", {}, key="1" * 40)[0] == 401
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/graphql", body=b'{"query": "query Viewer { viewer { id } }"}')
    assert conn.getresponse().status == 401
    conn.close()
    assert [e.kind for e in server.events()] == ["auth_failure"] * 3
    assert [r.status for r in server.requests] == [401, 401, 401]


def test_operation_name_is_read_from_the_query_text_when_empty(server: LocalWandbServer) -> None:
    status, body = gql(server, "query Viewer { viewer { id entity } }")
    assert status == 200 and body["data"]["viewer"]["entity"] == "local-entity"
    assert server.requests[-1].operation == "Viewer"


def test_upsert_adopts_the_default_entity_and_names_the_bucket_after_the_run(
    server: LocalWandbServer,
) -> None:
    status, body = gql(server, UPSERT, {"name": "abc", "project": "p", "entity": None, "host": "h"})
    assert status == 200
    bucket = body["data"]["upsertBucket"]["bucket"]
    assert bucket["name"] == "abc" and bucket["project"]["entity"]["name"] == "local-entity"
    assert body["data"]["upsertBucket"]["inserted"] is True
    assert server.run("local-entity/p/abc").created_count == 1


def test_file_stream_truncates_to_the_offset_then_appends(server: LocalWandbServer) -> None:
    _new_run(server)
    rows = [json.dumps({"_step": i, "x": i}) for i in range(3)]
    assert _stream(server, "r1", {"files": {"wandb-history.jsonl": {"offset": 0, "content": rows}}})[0] == 200
    retry = [json.dumps({"_step": 1, "x": 10}), json.dumps({"_step": 2, "x": 20})]
    final = {
        "files": {
            "wandb-history.jsonl": {"offset": 1, "content": retry},
            "wandb-summary.json": {"offset": 0, "content": [json.dumps({"x": 20, "_step": 2})]},
            "output.log": {"offset": 0, "content": ["2026-01-01T00:00:00 hello"]},
        },
        "complete": True,
        "exitcode": 0,
    }
    assert _stream(server, "r1", final)[0] == 200
    run = server.run("e/p/r1")
    assert run.history == [{"_step": 0, "x": 0}, {"_step": 1, "x": 10}, {"_step": 2, "x": 20}]
    assert run.summary == {"x": 20, "_step": 2} and run.output == ["2026-01-01T00:00:00 hello"]
    assert run.config == {"lr": 0.5} and run.state == "finished"
    assert [(s.complete, s.exit_code) for s in run.sessions] == [(True, 0)]


def test_nonzero_exit_code_marks_the_run_failed(server: LocalWandbServer) -> None:
    _new_run(server)
    _stream(server, "r1", {"complete": True, "exitcode": 3})
    assert server.run("r1").state == "failed" and server.run("r1").exit_code == 3


def test_preempting_marks_the_open_session(server: LocalWandbServer) -> None:
    _new_run(server)
    _stream(server, "r1", {"preempting": True})
    run = server.run("r1")
    assert run.state == "preempting" and run.sessions[-1].preempting and not run.sessions[-1].complete


def test_resume_status_counts_a_run_only_with_the_t_key(server: LocalWandbServer) -> None:
    _new_run(server, "bare", config=None)
    _, body = gql(server, RESUME_STATUS, {"project": "p", "entity": "e", "name": "bare"})
    assert body["data"]["model"]["bucket"]["wandbConfig"] is None
    _, body = gql(server, RESUME_STATUS, {"project": "p", "entity": "e", "name": "missing"})
    assert body["data"]["model"]["bucket"] is None and body["data"]["model"]["entity"]["name"] == "e"


def test_resume_status_returns_every_field_the_client_requires(server: LocalWandbServer) -> None:
    _new_run(server)
    rows = [json.dumps({"_step": i}) for i in range(3)]
    _stream(
        server,
        "r1",
        {
            "files": {
                "wandb-history.jsonl": {"offset": 0, "content": rows},
                "wandb-events.jsonl": {"offset": 0, "content": ['{"_wandb": true}']},
                "wandb-summary.json": {"offset": 0, "content": ['{"_step": 2}']},
            },
            "complete": True,
            "exitcode": 0,
        },
    )
    _, body = gql(server, RESUME_STATUS, {"project": "p", "entity": "e", "name": "r1"})
    bucket = body["data"]["model"]["bucket"]
    required = (
        "historyLineCount",
        "historyTail",
        "eventsLineCount",
        "eventsTail",
        "logLineCount",
        "summaryMetrics",
        "config",
    )
    assert all(bucket[k] is not None for k in required), bucket
    assert (bucket["historyLineCount"], bucket["eventsLineCount"], bucket["logLineCount"]) == (3, 1, 0)
    assert [json.loads(line)["_step"] for line in json.loads(bucket["historyTail"])] == [0, 1, 2]
    assert json.loads(bucket["wandbConfig"]) == {"t": {"1": [1]}}
    assert json.loads(bucket["summaryMetrics"]) == {"_step": 2}
    assert json.loads(bucket["config"])["lr"] == {"value": 0.5}
    assert _new_run(server)["bucket"]["historyLineCount"] == 3


def test_input_fields_probe_lists_the_create_artifact_input(server: LocalWandbServer) -> None:
    query = "query InputFields($typeName: String!) { TypeInfo: __type(name: $typeName) { inputFields { name } } }"
    _, body = gql(server, query, {"typeName": "CreateArtifactInput"})
    names = {f["name"] for f in body["data"]["TypeInfo"]["inputFields"]}
    assert {"artifactCollectionName", "digest", "aliases", "enableDigestDeduplication"} <= names


def test_upload_urls_accept_put_and_serve_get(server: LocalWandbServer) -> None:
    _new_run(server)
    query = """mutation CreateRunFiles($entity: String!, $project: String!, $run: String!,
      $files: [String!]!) {
      createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run, files: $files}) {
        runID uploadHeaders files { name uploadUrl } } }"""
    _, body = gql(server, query, {"entity": "e", "project": "p", "run": "r1", "files": ["config.yaml"]})
    [item] = body["data"]["createRunFiles"]["files"]
    assert item["name"] == "config.yaml" and item["uploadUrl"].startswith(server.url)
    put = urllib.request.Request(item["uploadUrl"], data=b"lr: 0.5\n", method="PUT")
    assert urllib.request.urlopen(put, timeout=5).status == 200
    assert urllib.request.urlopen(item["uploadUrl"], timeout=5).read() == b"lr: 0.5\n"
    assert urllib.request.urlopen(f"{server.url}/files/e/p/r1/config.yaml", timeout=5).read() == b"lr: 0.5\n"
    assert [(f.name, f.size, f.uploaded) for f in server.run("r1").files] == [("config.yaml", 8, True)]


def test_telemetry_is_accepted_and_ignored(server: LocalWandbServer) -> None:
    req = urllib.request.Request(f"{server.url}/sdk/otel/v1/metrics", data=b"\x00\x01", method="POST")
    assert urllib.request.urlopen(req, timeout=5).status == 200
    assert server.requests[-1].operation == "telemetry" and not server.events()


def test_injected_statuses_latency_and_dropped_connections_are_applied_and_recorded(
    server: LocalWandbServer,
) -> None:
    viewer = "query Viewer { viewer { id } }"
    server.faults.add("Viewer", status=500, times=2)
    server.faults.add("Viewer", status=None, latency=0.2, times=1)
    assert [gql(server, viewer)[0] for _ in range(3)] == [500, 500, 200]
    assert server.requests[-1].duration_ms >= 200
    server.faults.add("*", drop_connection=True)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        gql(server, viewer)
    assert gql(server, viewer)[0] == 200
    assert [r.fault is not None for r in server.requests] == [True, True, True, True, False]
    assert server.requests[3].fault == "rule(op=*,drop)"


def test_outage_fails_every_request_until_it_ends_or_is_cleared(server: LocalWandbServer) -> None:
    server.faults.outage(30)
    assert gql(server, "query Viewer { viewer { id } }")[0] == 503
    assert _stream(server, "r1", {})[0] == 503
    server.faults.clear()
    assert gql(server, "query Viewer { viewer { id } }")[0] == 200
    server.faults.outage(0.2)
    time.sleep(0.3)
    assert gql(server, "query Viewer { viewer { id } }")[0] == 200


def test_restart_keeps_the_port_and_the_records(server: LocalWandbServer, tmp_path: Path) -> None:
    _new_run(server)
    _stream(server, "r1", {"files": {"wandb-history.jsonl": {"offset": 0, "content": ['{"_step": 0}']}}})
    port = server.port
    server.restart()
    assert server.port == port
    _stream(server, "r1", {"files": {"wandb-history.jsonl": {"offset": 1, "content": ['{"_step": 1}']}}})
    server.stop()
    reopened = LocalWandbServer(tmp_path / "data")
    assert reopened.run("e/p/r1").steps == [0, 1]
    assert len(reopened.requests) == 3


def test_spawned_server_runs_in_a_child_process_and_takes_faults(tmp_path: Path) -> None:
    server = LocalWandbServer.spawn(tmp_path / "spawned")
    try:
        assert server.running
        _new_run(server)
        server.faults.add("UpsertBucket", status=429)
        assert gql(server, UPSERT, {"name": "r1", "project": "p", "entity": "e"})[0] == 429
        assert server.run("e/p/r1").created_count == 1
        assert [r.status for r in server.requests if r.operation == "UpsertBucket"] == [200, 429]
    finally:
        server.stop()
    assert not server.running


def test_main_module_prints_the_url(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wandb_ddp_bridge.testing", "--port", "0", "--data-dir", str(tmp_path / "d")],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, WANDB_LOCAL_SERVER_API_KEY="k" * 40),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0


def test_fixture_points_the_client_environment_at_the_server(wandb_server: LocalWandbServer) -> None:
    assert os.environ["WANDB_BASE_URL"] == wandb_server.url
    assert os.environ["WANDB_API_KEY"] == wandb_server.api_key and len(wandb_server.api_key) == 40
    assert os.environ["WANDB_MODE"] == "online" and os.environ["WANDB_SILENT"] == "true"
    assert os.environ["WANDB_ERROR_REPORTING"] == "false" and os.environ["WANDB_INIT_TIMEOUT"] == "30"
    assert Path(os.environ["WANDB_DIR"]).is_dir()
    assert "WANDB_RUN_ID" not in os.environ and "WANDB_RESUME" not in os.environ
    assert wandb_server.running and wandb_server.runs() == []


def test_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    try:
        metadata.distribution("wandb-ddp-bridge")
    except metadata.PackageNotFoundError:
        pytest.skip("wandb-ddp-bridge is not installed")
    points = {e.name: e.value for e in metadata.entry_points(group="pytest11")}
    assert points.get("wandb_ddp_bridge") == "wandb_ddp_bridge.testing.pytest_plugin"


def test_p50_latency_of_a_trivial_graphql_request(server: LocalWandbServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    timings = []
    for _ in range(200):
        start = time.perf_counter()
        status, _ = gql(server, "query ServerFeaturesQuery { serverInfo { features { name isEnabled } } }", conn=conn)
        timings.append((time.perf_counter() - start) * 1000)
        assert status == 200
    conn.close()
    print(
        f"\nlocal server p50 latency: {statistics.median(timings):.2f} ms "
        f"(p90 {statistics.quantiles(timings, n=10)[-1]:.2f} ms, 200 keep-alive requests)"
    )
