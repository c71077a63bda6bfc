"""Malformed requests against the local W&B server: every one gets a 4xx (never a 5xx, never a hang), and
the server still serves a real wandb client afterwards."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_server_clients import auth, run_client

from wandb_ddp_bridge.testing import LocalWandbServer
from wandb_ddp_bridge.testing.http_server import BODY_LIMITS

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
QUERIES = st.sampled_from(
    [
        "query Viewer { viewer { id } }",
        'query RunResumeStatus($name: String!) { model(name: "p") { bucket(name: $name) { id } } }',
        "mutation UpsertBucket($id: String) { upsertBucket(input: {id: $id}) { inserted } }",
        "{ viewer { id nope } }",
        "query A { viewer { id } } query B { viewer { id } }",
        "query { " + "viewer { " * 300 + "}" * 300,
    ]
) | st.text(max_size=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalWandbServer]:
    with LocalWandbServer(tmp_path_factory.mktemp("fuzz") / "data") as srv:
        yield srv


def _post(server: LocalWandbServer, path: str, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        conn.request("POST", path, body=body, headers={"Authorization": auth(server.api_key)})
        return conn.getresponse().status
    finally:
        conn.close()


@FUZZ
@given(body=JSON)
def test_any_json_body_that_is_not_a_graphql_request_is_a_400(server: LocalWandbServer, body: Any) -> None:
    if isinstance(body, dict) and isinstance(body.get("query"), str):
        body["query"] = "{ nope }"  # a dict that happens to carry a query still must not be valid
    assert _post(server, "/graphql", json.dumps(body).encode()) == 400


@FUZZ
@given(query=QUERIES, variables=JSON, name=st.none() | st.text(max_size=10) | st.integers())
def test_odd_queries_and_variables_get_a_4xx_or_an_answer_never_a_5xx(
    server: LocalWandbServer, query: str, variables: Any, name: Any
) -> None:
    status = _post(
        server, "/graphql", json.dumps({"query": query, "variables": variables, "operationName": name}).encode()
    )
    assert status < 500


@FUZZ
@given(body=st.binary(max_size=200), path=st.sampled_from(["/graphql", "/files/e/p/r/file_stream"]))
def test_binary_bodies_are_a_400(server: LocalWandbServer, body: bytes, path: str) -> None:
    assert 400 <= _post(server, path, body) < 500


@FUZZ
@given(payload=JSON)
def test_odd_file_stream_payloads_never_get_a_5xx(server: LocalWandbServer, payload: Any) -> None:
    assert _post(server, "/files/e/p/r/file_stream", json.dumps(payload).encode()) < 500


def _raw(server: LocalWandbServer, head: bytes, body: bytes, wait: float) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(head + body)
        return sock.recv(65536)


def test_a_body_over_the_limit_is_a_413_without_reading_it(server: LocalWandbServer) -> None:
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: {auth(server.api_key)}\r\n"
        f"Content-Length: {BODY_LIMITS['graphql'] + 1}\r\n\r\n"
    ).encode()
    assert _raw(server, head, b"{}", wait=5).startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize("length", ["abc", "-5"])
def test_a_content_length_that_is_not_a_count_is_a_400(server: LocalWandbServer, length: str) -> None:
    head = f"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()
    assert _raw(server, head, b"{}", wait=5).startswith(b"HTTP/1.1 400")


def test_a_client_that_promises_more_than_it_sends_is_cut_off_by_the_read_timeout(
    server: LocalWandbServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("wandb_ddp_bridge.testing.http_server.BODY_READ_TIMEOUT", 0.5)
    head = b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
    start = time.monotonic()
    assert _raw(server, head, b'{"query": ', wait=10) == b""  # the server closed the connection
    assert time.monotonic() - start < 5
    assert [e.detail["path"] for e in server.events("body_timeout")][-1:] == ["/graphql"]


LOG_ROWS = """
import wandb
run = wandb.init(project="p", entity="e", id="after-fuzz")
for i in range(3):
    run.log({"x": i})
run.finish()
"""


def test_the_server_still_serves_a_real_client_after_the_fuzzing(server: LocalWandbServer, tmp_path: Path) -> None:
    env = {**server.env(), "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true", "WANDB_MODE": "online"}
    run_client(LOG_ROWS, env=env)
    run = server.run("e/p/after-fuzz")
    assert run.steps == [0, 1, 2] and run.state == "finished"
    assert server.events("server_error") == []
    assert all(r.status < 500 for r in server.requests)
