"""A gunicorn worker never outlives its master.

gunicorn's worker notices a dead master in its main loop and leaves it, but that is not enough:

- the loop runs only once the worker has booted, and a worker can be stuck anywhere else
  (loading models, finishing requests);
- leaving ends in the interpreter's normal exit, and past Python's own shutdown the C++ static
  destructors of the native libraries run. In a forked worker some of them wait forever on a
  lock whose holder never existed in this process (onnxruntime, seen as a ``futex`` wait) or
  abort. A worker stopped by its master is killed once ``graceful_timeout`` passes, so this went
  unseen; a worker whose master is gone has no one to kill it.

So a worker ends with ``leave()``, which flushes what it has to say and ``os._exit``s (the
process owns nothing that needs the interpreter's shutdown: the master owns the shared metrics
folder, and store writes are committed or not before a response is sent). And ``watch_parent``
starts a thread that checks the parent every ``CHECK_INTERVAL`` seconds: once it has changed, the
worker's own loop gets ``grace`` seconds to finish its requests and leave, then the thread
ends the process, whatever the main thread is blocked on: ``os._exit`` takes no lock but the
interpreter's, which a thread waiting on a lock does not hold.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

log = logging.getLogger(__name__)

#: seconds between two looks at the parent
CHECK_INTERVAL = 0.5
#: exit status of a worker that had to be ended because its master was gone (no one reads it:
#: not gunicorn's boot-error status, all the same)
ORPHANED = 0

_started: set[int] = set()  # processes whose watch runs (a fork copies the set, not the thread)


def leave(status: int = 0) -> None:
    """End this worker process now: flush the log and the standard streams, then ``_exit``."""
    try:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    finally:
        os._exit(status)


def watch_parent(parent: int, grace: float) -> None:
    """In a worker: leave within ``grace`` seconds (plus a check's interval) of ``parent``
    (the master's pid) no longer being this process's parent. Once per process."""
    if os.getpid() in _started:
        return
    _started.add(os.getpid())
    threading.Thread(
        target=_watch, args=(parent, grace), name="qa-parent-watch", daemon=True
    ).start()


def _watch(parent: int, grace: float) -> None:
    while os.getppid() == parent:
        time.sleep(CHECK_INTERVAL)
    # logged from a thread of its own: a main thread stuck while holding the log's lock must not
    # stop this one
    message = "worker %d: the master (pid %d) is gone; leaving within %.0f s"
    threading.Thread(
        target=log.warning, args=(message, os.getpid(), parent, grace), daemon=True
    ).start()
    time.sleep(grace)
    os._exit(ORPHANED)
