"""The ``qa`` command as a user runs it: a real process, real models, the seeds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import CHAIRMAN, CHAIRMAN_DOC, CHAIRMAN_Q, ROOT

from qa.cli import clip
from qa.service import QAService
from qa.web import create_app


def qa(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def test_ask_builds_the_index_on_first_use_and_cites(tmp_path: Path):
    index = tmp_path / "index"
    proc = qa("--index-dir", str(index), "ask", CHAIRMAN_Q)
    assert proc.returncode == 0, proc.stderr
    assert "built the index" in proc.stderr
    assert f"A: {CHAIRMAN}" in proc.stdout and CHAIRMAN_DOC in proc.stdout
    proc = qa("--index-dir", str(index), "ask", "--json", CHAIRMAN_Q)
    result = json.loads(proc.stdout)
    answer = result["answer"]
    text = (ROOT / "seeds" / f"{CHAIRMAN_DOC}.txt").read_text(encoding="utf-8")
    assert text[answer["start"] : answer["end"]] == CHAIRMAN == answer["text"]
    assert "built the index" not in proc.stderr  # reused, not rebuilt


def test_index_search_delete_documents(tmp_path: Path, seeds_index_dir: Path):
    index = tmp_path / "index"
    shutil.copytree(seeds_index_dir, index)
    extra = tmp_path / "extra.jsonl"
    extra.write_text(
        json.dumps(
            {
                "id": "kessel",
                "title": "Kessel",
                "text": "Mira Kessel founded the Zorblatt Institute in 1911.",
                "source": "Gazette",
            }
        )
        + "\n{broken json\n"
    )
    proc = qa("--index-dir", str(index), "index", str(extra))
    assert proc.returncode == 0, proc.stderr
    assert "added 1" in proc.stdout and "extra.jsonl:2" in proc.stderr
    proc = qa("--index-dir", str(index), "search", "--json", "Zorblatt Institute", "-k", "2")
    assert json.loads(proc.stdout)[0]["doc_id"] == "kessel"
    proc = qa("--index-dir", str(index), "documents", "--json")
    assert {d["id"] for d in json.loads(proc.stdout)} >= {"kessel", CHAIRMAN_DOC}
    proc = qa("--index-dir", str(index), "delete", "kessel")
    assert proc.returncode == 0 and "deleted kessel" in proc.stdout
    proc = qa("--index-dir", str(index), "delete", "kessel")
    assert proc.returncode == 1 and "unknown document" in proc.stderr


def test_bad_input_exits_with_a_message(tmp_path: Path, seeds_index_dir: Path):
    proc = qa("--index-dir", str(seeds_index_dir), "ask", "   ")
    assert proc.returncode == 1 and "question is empty" in proc.stderr
    proc = qa("--index-dir", str(tmp_path / "i"), "index", str(tmp_path / "missing.txt"))
    assert proc.returncode == 1 and "missing.txt" in proc.stderr


def test_settings_options_mean_the_same_before_and_after_the_command(seeds_index_dir: Path):
    index = str(seeds_index_dir)
    query = "treaty on alliance and integration"
    before = qa("--index-dir", index, "--top-k", "3", "search", "--json", query)
    after = qa("search", query, "--top-k", "3", "--json", "--index-dir", index)
    short = qa("search", "-k", "3", "--json", query, "--index-dir", index)
    assert before.returncode == after.returncode == short.returncode == 0, after.stderr
    ranked = [(p["doc_id"], p["start"]) for p in json.loads(before.stdout)]
    assert len(ranked) == 3
    assert ranked == [(p["doc_id"], p["start"]) for p in json.loads(after.stdout)]
    assert ranked == [(p["doc_id"], p["start"]) for p in json.loads(short.stdout)]
    # the later of two values wins, wherever each stands
    proc = qa("--top-k", "5", "search", "--json", query, "--top-k", "2", "--index-dir", index)
    assert len(json.loads(proc.stdout)) == 2


def test_a_commands_mistake_shows_that_commands_usage(seeds_index_dir: Path):
    proc = qa("search", "treaty", "--bogus", "--index-dir", str(seeds_index_dir))
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: qa search ")
    assert proc.stderr.rstrip().endswith("qa search: error: unrecognized arguments: --bogus")
    proc = qa("ask", "--top-k", "many", "x")
    assert proc.returncode == 2 and proc.stderr.startswith("usage: qa ask ")
    assert "argument --top-k: invalid int value: 'many'" in proc.stderr


def test_top_k_the_api_refuses_is_refused_by_flags_and_variables_in_the_same_words(
    seeds_service: QAService, tmp_path: Path
):
    client = create_app(seeds_service.settings, seeds_service).test_client()
    response = client.post("/api/ask", json={"question": "x", "top_k": 0})
    assert response.status_code == 400
    api_message = response.get_json()["error"]["message"]
    assert api_message == "top_k must be between 1 and 100"
    index = str(tmp_path / "index")  # never reached: the value is refused before
    for args, env in [
        (("--top-k", "0", "ask", "x"), {}),
        (("ask", "x", "--top-k", "0"), {}),
        (("ask", "x", "-k", "0"), {}),
        (("search", "x", "-k", "101"), {}),
        (("ask", "x"), {"QA_TOP_K": "0"}),
    ]:
        proc = qa("--index-dir", index, *args, env=env)
        assert proc.returncode != 0, args
        last = proc.stderr.strip().splitlines()[-1]
        if "101" in args:
            assert last.endswith("top_k must be between 1 and 100")
        else:
            assert last.endswith(api_message), (args, env, proc.stderr)
    assert env and "QA_TOP_K=0: " + api_message in proc.stderr
    assert not (tmp_path / "index").exists()


@pytest.mark.parametrize("command", [["ask", "Who?"], ["search", "treaty"], ["documents"]])
def test_reading_without_an_index_or_a_corpus_fails_in_one_line_and_writes_nothing(
    tmp_path: Path, command: list[str]
):
    """Run where there is no ``seeds/`` to build from: one line naming the folder and how to
    make an index, a non-zero exit, and no folder left behind."""
    missing = tmp_path / "some" / "typo"
    for _ in range(2):  # and the same again: nothing was built the first time
        proc = qa("--index-dir", str(missing), *command, cwd=tmp_path)
        assert proc.returncode == 1
        assert proc.stdout == ""
        (line,) = proc.stderr.splitlines()
        assert line.startswith(f"qa: error: no index in {missing}, and nothing to build one")
        assert "seeds: no such file or directory" in line
        assert line.endswith(f"make one with: qa --index-dir {missing} index FILES_OR_FOLDERS")
        assert not (tmp_path / "some").exists()
    proc = qa("--index-dir", str(missing), "delete", "x", cwd=tmp_path)
    assert (
        proc.returncode == 1
        and proc.stderr == f"qa: error: no index in {missing}: nothing to delete\n"
    )
    assert not (tmp_path / "some").exists()


def test_titles_are_cut_at_a_word_boundary_with_an_ellipsis():
    title = "Amidst geopolitical shifts, South Ossetia's potential annexation by Russia has sparked"
    assert clip(title) == "Amidst geopolitical shifts, South Ossetia's potential annexation by…"
    assert clip("short title") == "short title"
    assert clip("a" * 80) == "a" * 69 + "…"
    assert len(clip(title, 30)) <= 30 and clip(title, 30).endswith("shifts…")
