"""``qa serve`` for real: gunicorn on a free loopback port, building its index from the seeds."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from support import CHAIRMAN, CHAIRMAN_DOC, CHAIRMAN_Q, LIVE_TOKEN, ROOT

from qa.settings import Settings
from qa.web.process import ServeError, ServeProcess
from qa.web.serve import gunicorn_options, public_url

pytestmark = pytest.mark.slow


def post_json(url: str, body: object) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_real_server_answers_a_seeds_question_with_its_citation(live_server: Any) -> None:
    status, body = post_json(f"{live_server.url}/api/ask", {"question": CHAIRMAN_Q})
    assert status == 200, body
    answer = body["answer"]
    assert isinstance(answer, dict)
    assert CHAIRMAN in answer["text"]
    assert answer["citations"][0]["doc_id"] == CHAIRMAN_DOC

    status, body = post_json(f"{live_server.url}/api/ask", {"question": ""})
    assert status == 400 and body["error"]["code"] == "bad_request"

    with urllib.request.urlopen(f"{live_server.url}/healthz", timeout=10) as r:
        health = json.loads(r.read())
    assert health["documents"] >= 5  # the seeds; the browser test may have uploaded more
    metrics_request = urllib.request.Request(
        f"{live_server.url}/metrics", headers={"Authorization": f"Bearer {LIVE_TOKEN}"}
    )  # the server has a token, and /metrics needs it then
    with urllib.request.urlopen(metrics_request, timeout=10) as r:
        metrics = r.read().decode()
    assert 'qa_http_requests_total{endpoint="/api/ask",method="POST",status="200"}' in metrics

    log = live_server.log()
    assert "building it from" in log  # the index did not exist: serve built it
    assert f"open {live_server.url}/ in a browser" in log


def test_urls_and_gunicorn_options() -> None:
    assert public_url("0.0.0.0", 8000) == "http://127.0.0.1:8000/"
    assert public_url("::", 80) == "http://[::1]:80/"
    assert public_url("example.org", 8080) == "http://example.org:8080/"
    options = gunicorn_options(Settings(host="::1", port=9000, workers=3, threads=2, queue_size=8))
    assert options["bind"] == ["[::1]:9000"]
    assert options["workers"] == 3
    assert options["worker_class"] == "qa.web.worker.HeadFirstWorker"
    # a thread for every admitted request, so the in-flight bound (not gunicorn) decides the 503s
    assert options["threads"] > 8


def test_a_server_that_cannot_start_is_reported_with_its_log(tmp_path: Path):
    log = tmp_path / "serve.log"
    server = ServeProcess(index_dir=tmp_path / "index", workers=0, cwd=ROOT, log_path=log)
    with server, pytest.raises(ServeError, match=r"(?s)exited with [1-9].*--workers"):
        server.wait_until_healthy(timeout=120)
    assert server.proc.poll() is not None
    assert not (tmp_path / "index").exists()  # refused before anything was built


def test_a_port_in_use_is_refused_in_one_line_before_anything_starts(tmp_path: Path):
    """Not gunicorn's five seconds of ``Connection in use`` retries: one ``qa:`` line, exit 1,
    and no index built for a server that cannot listen."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        index = str(tmp_path / "index")
        proc = subprocess.run(
            [sys.executable, "-m", "qa.cli", "--index-dir", index, "serve", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        f"qa: error: port {port} on 127.0.0.1 is in use (another server?); "
        "choose another with --port or QA_PORT\n"
    )
    assert not (tmp_path / "index").exists()
