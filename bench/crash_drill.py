"""Crash drill: start `qa index` on a corpus, kill -9 it in the middle of a write, then open the
index, check it and ask. Repeated N times (20 by default); tests/store/test_crash_drill.py runs a
short one.

The kill is aimed, not timed: the drill picks one of the run's writes at random and watches
`qa index` take the index's write lock (it holds it exactly while it writes, as /proc/locks
shows); in that write it lets a random few milliseconds pass, stops the process and, if it still
holds the lock, kills it there (a write that ended meanwhile is let go and the next one taken;
a run that ends first is run again). So every kill lands inside a write, at a random point of it
(the SQLite transaction, its commit, the FAISS file written after it), and each trial records
that it did.

Every run must leave an index that opens, answers, and holds exactly the documents of the batches
committed before the kill (each batch of QA_WRITE_BATCH documents is one generation): whole
batches, in order, every document with all its chunks, and FAISS agreeing with SQLite.

    python bench/crash_drill.py --runs 20      # JSON in bench/results/crash_drill.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.ingest.load import load_documents
from qa.service import QAService
from qa.settings import Settings
from qa.store import store_exists
from qa.store.faiss_sqlite import LOCK_NAME

RESULTS = Path(__file__).resolve().parent / "results"
WRITE_BATCH = 6
#: runs of `qa index` a trial may take to catch one inside a write
ATTEMPTS = 4
TOWNS = ["Eastbridge", "Harlow", "Quenby", "Marsh End", "Tolvery", "Ashcombe", "Pennick", "Rudd"]


def make_corpus(folder: Path, n_docs: int) -> Path:
    """Short articles, each with a name found in no other (so a search for it is unambiguous)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_docs):
        town = TOWNS[i % len(TOWNS)]
        (folder / f"doc{i:03d}.txt").write_text(
            f"Mayor Zorvan{i:03d} opened the new library in {town} on Monday. "
            f"The library in {town} holds {1000 + i} books. Residents of {town} welcomed it.\n",
            encoding="utf-8",
        )
    return folder


def _index_command(index_dir: Path, corpus: Path) -> list[str]:
    return [sys.executable, "-m", "qa.cli", "--index-dir", str(index_dir), "index", str(corpus)]


def _env() -> dict[str, str]:
    return os.environ | {"QA_WRITE_BATCH": str(WRITE_BATCH), "OMP_NUM_THREADS": "1"}


def full_run(index_dir: Path, corpus: Path) -> tuple[int, float]:
    """The writes of a whole `qa index` that watching its write lock sees, and its seconds."""
    started = time.monotonic()
    proc = subprocess.Popen(_index_command(index_dir, corpus), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    writes, writing = 0, False
    while proc.poll() is None:
        held = holds_write_lock(proc.pid, index_dir / LOCK_NAME)
        writes += held and not writing
        writing = held
        time.sleep(0.001)
    if proc.returncode != 0:
        raise RuntimeError(f"qa index failed ({proc.returncode})")
    if not writes:
        raise RuntimeError("no write of `qa index` was seen holding the write lock")
    return writes, time.monotonic() - started


def holds_write_lock(pid: int, lock: Path) -> bool:
    """Whether process ``pid`` holds the flock on ``lock`` (a line of /proc/locks such as
    ``1: FLOCK  ADVISORY  WRITE 5543 fe:00:2147653 0 EOF``)."""
    try:
        inode = lock.stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except FileNotFoundError:
        return False
    for line in lines:
        fields = line.split()
        if (
            len(fields) >= 6
            and fields[1] == "FLOCK"
            and fields[4] == str(pid)
            and int(fields[5].rsplit(":", 1)[1]) == inode
        ):
            return True
    return False


def kill_inside_a_write(proc: subprocess.Popen[bytes], lock: Path, rng: random.Random,
                        target: int, wait: float = 0.02) -> dict[str, Any]:
    """SIGKILL ``proc`` while it holds ``lock``, at a random point of its ``target``-th write
    (or of a later one, when that write ends before the process is stopped). Returns what
    happened: ``killed_in_write`` is True only when the process was stopped holding the lock and
    killed so (false when it ended first). ``wait`` bounds the random time let pass inside the
    write before the stop."""
    seen = 0
    # writes last a few milliseconds on a fast machine and longer on a loaded one: each write
    # that ends before the stop lands shrinks the wait for the next, so a run cannot slip
    # through all of its writes
    while proc.poll() is None:
        if not holds_write_lock(proc.pid, lock):
            time.sleep(0.001)
            continue
        seen += 1
        if seen >= target:
            time.sleep(rng.uniform(0, wait))  # somewhere inside the write
            proc.send_signal(signal.SIGSTOP)
            if holds_write_lock(proc.pid, lock):
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return {"killed_in_write": True, "write": seen}
            proc.send_signal(signal.SIGCONT)  # this write ended meanwhile: take the next one
            wait /= 4
        while proc.poll() is None and holds_write_lock(proc.pid, lock):
            time.sleep(0.001)
    return {"killed_in_write": False, "write": None, "exit_code": proc.returncode}


def check(index_dir: Path, batches: list[list[str]], svc_kwargs: dict[str, Any]) -> dict[str, Any]:
    """What a reader of the killed index finds; raises AssertionError when a promise is broken."""
    settings = Settings(index_dir=index_dir)
    if not store_exists(settings.storage):
        return {"documents": 0, "batches": 0, "note": "killed before the first commit"}
    svc = QAService(settings, **svc_kwargs)
    try:
        store = svc.store
        ids = sorted(store.fingerprints())
        complete = 0
        while complete < len(batches) and set(batches[complete]) <= set(ids):
            complete += 1
        expected = sorted(d for b in batches[:complete] for d in b)
        assert ids == expected, f"not whole batches: {len(ids)} documents, {complete} batches"
        for info in store.documents():
            assert info.chunks >= 1, f"{info.id} has no chunks"
        docs, chunks = store.count()
        if chunks:
            probe = svc.embedder.embed_query("library")
            found = {h.chunk_id for h in store.search(probe, chunks)}
            assert found == {st.id for st in store.chunks()}, "FAISS disagrees with SQLite"
        answered = None
        if ids:
            n = int(ids[-1].removeprefix("doc"))
            result = svc.ask(f"Who opened the library holding {1000 + n} books?")
            assert result.passages and result.passages[0].doc_id in ids
            answered = result.answer.text if result.answer else None
        return {"documents": docs, "chunks": chunks, "batches": complete, "answer": answered}
    finally:
        svc.close()


def drill(runs: int, n_docs: int = 36, seed: int = 0, work: Path | None = None) -> dict[str, Any]:
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="qa-crash-drill-", dir=work))
    try:
        corpus = make_corpus(work / "corpus", n_docs)
        docs, _ = load_documents([corpus])
        order = [d.id for d in docs]
        batches = [order[i : i + WRITE_BATCH] for i in range(0, len(order), WRITE_BATCH)]
        writes, total = full_run(work / "reference", corpus)
        # one process holds the models for every check, as a server would
        models = QAService(Settings())
        svc_kwargs = {"embedder": models.embedder, "reader": models.reader}
        reference = check(work / "reference", batches, svc_kwargs)
        assert reference["batches"] == len(batches), reference
        trials = []
        for run in range(runs):
            index_dir = work / f"run{run:02d}"
            attempts = 0
            while attempts < ATTEMPTS:
                attempts += 1
                # which write to kill the process in; a last attempt aims at the first and
                # stops it as soon as it is seen writing, so that it cannot miss every write
                last = attempts == ATTEMPTS
                target = 1 if last else rng.randint(1, writes)
                shutil.rmtree(index_dir, ignore_errors=True)
                proc = subprocess.Popen(_index_command(index_dir, corpus), env=_env(),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    kill = kill_inside_a_write(proc, index_dir / LOCK_NAME, rng, target,
                                               wait=0.0 if last else 0.02)
                finally:
                    if proc.poll() is None:
                        proc.kill()
                    proc.wait()
                if kill["killed_in_write"]:
                    break
            trial: dict[str, Any] = {
                "run": run, "target_write": target, "attempts": attempts, **kill
            }
            try:
                trial |= check(index_dir, batches, svc_kwargs)
                trial["survived"] = True
            except Exception as exc:  # a broken promise: reported, and the drill goes on
                trial |= {"survived": False, "error": f"{type(exc).__name__}: {exc}"}
            trials.append(trial)
            shutil.rmtree(index_dir, ignore_errors=True)
        return {
            "runs": runs,
            "survived": sum(t["survived"] for t in trials),
            "killed_in_write": sum(t["killed_in_write"] for t in trials),
            "documents": n_docs,
            "write_batch": WRITE_BATCH,
            "full_run_s": round(total, 2),
            "writes": writes,
            "trials": trials,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--docs", type=int, default=36)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = drill(args.runs, args.docs, args.seed)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "crash_drill.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"crash drill: {result['survived']}/{result['runs']} survived "
          f"({result['killed_in_write']} killed inside a write)")
    for t in result["trials"]:
        if not t["survived"]:
            print(f"  run {t['run']}: {t['error']}")
    return 0 if result["survived"] == result["killed_in_write"] == result["runs"] else 1


if __name__ == "__main__":
    sys.exit(main())
