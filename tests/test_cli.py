"""The ``qa`` command as a user runs it: a real process, real models, the seeds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from support import CHAIRMAN, CHAIRMAN_DOC, CHAIRMAN_Q, ROOT


def qa(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
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
