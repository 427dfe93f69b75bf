"""``qa healthcheck``, as a container's health check runs it: apart from the server, it finds the
``qa serve`` of this machine where that server said it listens (here ``--port``, while QA_PORT
names another port), and fails when none runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.web.process import ServeProcess

pytestmark = pytest.mark.slow

#: a port nothing listens on, in QA_PORT: the check must not go by it
WRONG_PORT = "1"


def healthcheck(runtime: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(runtime), "QA_PORT": WRONG_PORT}
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", "healthcheck", "--timeout", "10"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_healthcheck_follows_the_port_qa_serve_was_given(seeds_index_dir: Path, tmp_path: Path):
    index = tmp_path / "index"
    shutil.copytree(seeds_index_dir, index)
    runtime = tmp_path / "run"  # the server's and the check's temporary folder, theirs alone
    runtime.mkdir()
    assert healthcheck(runtime).returncode == 1
    env = {"TMPDIR": str(runtime), "QA_PORT": WRONG_PORT}
    with ServeProcess(index_dir=index, env=env, log_path=tmp_path / "serve.log") as served:
        served.wait_until_healthy(timeout=240)
        checked = healthcheck(runtime)
        assert checked.returncode == 0, checked.stdout + served.log()
    gone = healthcheck(runtime)
    assert gone.returncode == 1 and "no qa serve is running here" in gone.stdout
    assert list(runtime.glob("qa-serve-*/*.json")) == []  # its note went with it
