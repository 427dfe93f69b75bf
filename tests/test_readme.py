"""Every ``qa ...`` command in the README's code blocks, run as written, in the README's order,
from a folder laid out like a fresh checkout: a copy of ``seeds/`` and no index yet.

What the commands name beyond the checkout is laid where they look for it, so no command is
rewritten: ``path/to/articles/`` and ``more.jsonl`` (the user's own files) are the small files of
``tests/data/readme/``, and ``../shared/data/seeds_dev.jsonl`` is the checkout's copy,
``tests/data/seeds_dev.jsonl``. The one change: ``qa serve`` listens on a free port instead of
its ``--port`` (other servers run on this machine) and must answer ``/healthz``; it runs on while
the ``qa healthcheck`` written after it asks for it, then is stopped. The commands get a temporary
folder of their own, where ``qa serve`` notes its port for ``qa healthcheck``, so the check finds
this server and no other on the machine.

Also the README's Python example, after the commands, as a script.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from support import ROOT, SEEDS, SEEDS_DEV, TEST_DATA

from qa.cli import main
from qa.web.process import free_port

pytestmark = pytest.mark.slow

README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
SHELLS = {"", "bash", "sh", "shell", "console"}


def code_blocks(markdown: str) -> list[tuple[str, str]]:
    """``(language, text)`` of every fenced code block."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(markdown)]


def qa_commands(markdown: str) -> list[list[str]]:
    """Each ``qa`` command line of the shell code blocks, split as a shell would, comments
    dropped."""
    commands = []
    for language, text in code_blocks(markdown):
        if language not in SHELLS:
            continue
        for line in text.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "qa":
                commands.append(words)
    return commands


def test_commands_are_found_as_a_shell_reads_them() -> None:
    markdown = (
        "Text `qa inline` is not a command.\n\n"
        '```bash\nmake serve   # not qa\nqa ask "Who is it?"   # a comment\n'
        "qa search 'x y' --top-k 3\n```\n\n"
        '```python\nqa = "not a shell"\n```\n'
    )
    assert qa_commands(markdown) == [
        ["qa", "ask", "Who is it?"],
        ["qa", "search", "x y", "--top-k", "3"],
    ]


def lay_out_checkout(tmp_path: Path) -> Path:
    """``tmp_path/checkout`` as after ``git clone`` (seeds, no index), with the README's other
    paths laid where its commands look for them."""
    checkout = tmp_path / "checkout"
    shutil.copytree(SEEDS, checkout / "seeds")
    shutil.copytree(TEST_DATA / "readme" / "articles", checkout / "path" / "to" / "articles")
    shutil.copy(TEST_DATA / "readme" / "more.jsonl", checkout / "more.jsonl")
    shared = tmp_path / "shared" / "data"  # ../shared from the checkout
    shared.mkdir(parents=True)
    shutil.copy(SEEDS_DEV, shared / "seeds_dev.jsonl")
    return checkout


def qa_program() -> list[str]:
    """The ``qa`` a user runs: the installed script beside this Python."""
    script = Path(sys.executable).with_name("qa")
    return [str(script)] if script.exists() else [sys.executable, "-m", "qa.cli"]


def user_environment(runtime: Path) -> dict[str, str]:
    """This environment without ``QA_*`` settings (the README's commands assume the defaults),
    with ``runtime`` as the temporary folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    runtime.mkdir(parents=True, exist_ok=True)
    env["TMPDIR"] = str(runtime)
    return env


def run_command(words: list[str], cwd: Path, env: dict[str, str]) -> str | None:
    """None when the command did what it should, else what went wrong."""
    proc = subprocess.run(
        [*qa_program(), *words[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        return f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-1500:]}"
    return None


class Server:
    """A README ``qa serve`` command, running on a free port until ``stop``."""

    def __init__(self, words: list[str], cwd: Path, env: dict[str, str]) -> None:
        args = list(words[1:])
        if "--port" in args:
            args[args.index("--port") + 1] = str(free_port())
        else:
            args += ["--port", str(free_port())]
        self.port = args[args.index("--port") + 1]
        self.log = cwd / "serve.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*qa_program(), *args], cwd=cwd, env=env, stdout=out, stderr=out
            )

    def wait_until_healthy(self, timeout: float = 420) -> str | None:
        """None once it answers ``/healthz``, else what went wrong."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"exit {self.proc.returncode}: {self.log.read_text()[-1500:]}"
            url = f"http://127.0.0.1:{self.port}/healthz"
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        return None
            except OSError:
                pass
            time.sleep(0.5)
        return f"not healthy after {timeout:.0f} s: {self.log.read_text()[-1500:]}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def test_every_readme_command_works_as_written(tmp_path: Path) -> None:
    markdown = README.read_text(encoding="utf-8")
    commands = qa_commands(markdown)
    assert len(commands) >= 5, "the README's code blocks hold no qa commands: is the fence read?"
    checkout = lay_out_checkout(tmp_path)
    env = user_environment(tmp_path / "run")
    failures = []
    server: Server | None = None
    try:
        for words in commands:
            if server is not None and words[1] != "healthcheck":  # it asks the server above it
                server.stop()
                server = None
            if words[1] == "serve":
                server = Server(words, checkout, env)
                problem = server.wait_until_healthy()
            else:
                problem = run_command(words, checkout, env)
            if problem:
                failures.append(f"{shlex.join(words)}\n    {problem}")
    finally:
        if server is not None:
            server.stop()
    (example,) = [text for language, text in code_blocks(markdown) if language == "python"]
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        failures.append(f"the Python example\n    {proc.stderr.strip()[-1500:]}")
    assert not failures, "README commands that fail as written:\n" + "\n".join(failures)


def test_the_refusal_shown_in_the_readme_is_what_qa_ask_prints(
    seeds_index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README shows a refusal explaining itself as `qa ask` output; the shipped models print
    that refusal, word for word, over the seeds."""
    markdown = README.read_text(encoding="utf-8")
    (shown,) = [t for lang, t in code_blocks(markdown) if lang == "text" and "$ qa ask" in t]
    command, *expected = shown.strip().splitlines()
    question = shlex.split(command.removeprefix("$ "))[2]
    capsys.readouterr()
    assert main(["--index-dir", str(seeds_index_dir), "ask", question]) == 0
    printed = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    for line in expected:
        assert line.rstrip() in printed, (line, printed[:8])
