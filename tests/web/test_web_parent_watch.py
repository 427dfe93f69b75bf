"""The watch that ends a worker whose master is gone (``qa.web.parent_watch``), on its own: a
process whose main thread is blocked on a lock for good is ended ``grace`` seconds after its
parent is killed. (The whole server under ``kill -9`` is ``test_web_orphans.py``.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from support import ROOT, running

#: the parent forks a child that watches it and then blocks on a lock nobody will release
PARENT = """
import os, sys, threading, time
child = os.fork()
if child == 0:
    from qa.web.parent_watch import watch_parent
    watch_parent(os.getppid(), grace=float(sys.argv[1]))
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()  # blocked for good, as the orphaned worker was
    os._exit(9)
print(child, flush=True)
time.sleep(600)
"""

GRACE = 1.0


def test_a_process_blocked_on_a_lock_leaves_once_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(GRACE)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        time.sleep(1.0)
        assert running([child]) == [child]  # the parent is alive: the watch keeps quiet
        parent.kill()
        parent.wait(timeout=10)
        killed = time.monotonic()
        while running([child]) and time.monotonic() - killed < GRACE + 10:
            time.sleep(0.05)
        assert not running([child]), "the child outlived its parent"
        assert time.monotonic() - killed >= GRACE  # it had its grace to finish by itself
    finally:
        if running([child]):
            os.kill(child, signal.SIGKILL)
