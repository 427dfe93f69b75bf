"""``qa serve``: the service under gunicorn (or Flask's reloader with ``--dev``).

The master process builds the index when there is none (in a spawned child process), imports
the libraries and builds the app, then forks the workers (gunicorn's ``preload_app``): the
libraries' memory (onnxruntime, tokenizers, and spaCy for the sentence splitter) is then one copy
shared by all workers instead of one per worker. With the shipped ONNX reader and encoder no
process imports torch or transformers (``qa.text.sentences.import_spacy`` keeps thinc from importing
torch).
What holds threads or file handles is created after the fork, in each worker: onnxruntime
sessions (a thread pool does not survive a fork, and a session whose pool is gone hangs), torch's
thread pools when a Hugging Face model needs torch, and the index's SQLite connection. Index files
(FAISS, the BM25 save) are shared read-only through the page cache.
"""

from __future__ import annotations

import argparse
import atexit
import errno
import multiprocessing
import os
import shutil
import socket
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from qa.settings import Settings

#: gunicorn threads beyond the in-flight bound, so a full worker can still answer health checks,
#: metrics and its own 503s promptly
SPARE_THREADS = 2

#: seconds a worker may take to load models and the index before gunicorn gives up on it
WORKER_BOOT_TIMEOUT = 180
#: seconds a stopping worker has to finish the requests it holds
GRACEFUL_TIMEOUT = 20
#: seconds past that before a worker whose master is gone is ended (qa.web.parent_watch)
ORPHAN_GRACE = GRACEFUL_TIMEOUT + 5


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the HTTP API and web form (gunicorn)",
        description="Serve the JSON API and the web form. Builds the index from the corpus "
        "(default seeds/) first when there is none.",
    )
    p.add_argument("--host", help="address to bind (QA_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (QA_PORT, default 8000)")
    p.add_argument("--workers", type=int, help="worker processes (QA_WORKERS, default 2)")
    p.add_argument(
        "--threads", type=int, help="questions answered at once per worker (QA_THREADS, default 4)"
    )
    p.add_argument("--dev", action="store_true", help="Flask's development server with auto-reload")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.replace(
        host=args.host, port=args.port, workers=args.workers, threads=args.threads
    )
    if not 0 < settings.server.port < 65536:
        raise ValueError(f"--port must be between 1 and 65535, not {settings.server.port}")
    if settings.server.workers < 1 or settings.server.threads < 1:
        raise ValueError("--workers and --threads must be at least 1")
    check_port(settings.server.host, settings.server.port)
    ensure_index(settings)
    from qa.web.healthcheck import record

    record(settings.server)  # for `qa healthcheck`, which cannot see these flags
    if args.dev:
        return _run_dev(settings)
    return _run_gunicorn(settings)


def check_port(host: str, port: int) -> None:
    """Refuse, in one line and before anything is built or loaded, an address this process
    cannot listen on (mostly: a port another server holds). gunicorn would retry it for five
    seconds, logging each failure, and end without saying what to do. Bound as gunicorn binds
    (``SO_REUSEADDR``), so connections of a server that just stopped do not count."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise OSError(
                    f"port {port} on {host} is in use (another server?); "
                    "choose another with --port or QA_PORT"
                ) from None
            raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def ensure_index(settings: Settings) -> None:
    """Build the index from the configured corpus when it is missing, in a spawned process."""
    from qa.service import QAService

    if QAService(settings).index_exists():
        return
    print(
        f"qa: no index in {settings.storage.index_dir}; building it from "
        f"{', '.join(map(str, settings.indexing.corpus))} ...",
        file=sys.stderr,
        flush=True,
    )
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        summary = pool.submit(_build_index, settings).result()
    print(f"qa: {summary}", file=sys.stderr, flush=True)


def _build_index(settings: Settings) -> str:
    from qa.service import QAService

    svc = QAService(settings)
    report = svc.ensure_index()
    svc.close()
    if report is None:
        return "index already present"
    for problem in report.problems:
        print(f"qa: skipped {problem.path}: {problem.reason}", file=sys.stderr)
    if not report.added and not report.replaced:
        return "nothing to index there: serving an empty index (add documents at /add)"
    return (
        f"indexed {len(report.added) + len(report.replaced)} documents "
        f"({report.chunks} chunks) in {report.seconds:.1f}s"
    )


def public_url(host: str, port: int) -> str:
    """The URL to open in a browser: a wildcard bind is reachable on loopback."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _run_dev(settings: Settings) -> int:
    from qa.web import create_app

    url = public_url(settings.server.host, settings.server.port)
    print(f"qa: development server at {url}", flush=True)
    app = create_app(settings)
    # the debugger would let anyone who reaches the port run code; the reloader is what --dev is for
    app.run(
        host=settings.server.host,
        port=settings.server.port,
        debug=False,
        use_reloader=True,
        use_debugger=False,
        threaded=True,
    )
    return 0


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """gunicorn settings for ``settings``. Threads: the app admits ``queue_size`` requests per
    worker (running or waiting their turn) and answers the next one 503; gunicorn needs a thread
    for each admitted request plus a few spare to say so."""

    url = public_url(settings.server.host, settings.server.port)

    def when_ready(_server: Any) -> None:
        print(
            f"qa: serving {settings.storage.index_dir} with {settings.server.workers} worker(s) "
            f"at {url}\n"
            f"qa: open {url} in a browser (API documentation at {url}docs)",
            flush=True,
        )

    def post_fork(_server: Any, worker: Any) -> None:
        from qa.web.parent_watch import watch_parent

        # first: the master may die while this worker is still loading its models
        watch_parent(worker.ppid, ORPHAN_GRACE)
        ready = worker.app.wsgi().config.get("QA_POST_FORK")
        if ready is not None:
            ready()

    def child_exit(_server: Any, worker: Any) -> None:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(worker.pid)

    return {
        "bind": [_bind(settings.server.host, settings.server.port)],
        "workers": settings.server.workers,
        # gthread that reads whole requests before a thread takes them, so slow clients cannot
        # hold threads (see qa/web/worker.py)
        "worker_class": "qa.web.worker.HeadFirstWorker",
        "threads": max(settings.server.queue_size, settings.server.threads) + SPARE_THREADS,
        "timeout": WORKER_BOOT_TIMEOUT,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": settings.server.log_level.lower(),
        "proc_name": "qa",
        "preload_app": True,
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
        "when_ready": when_ready,
        "post_fork": post_fork,
        "child_exit": child_exit,
    }


def _run_gunicorn(settings: Settings) -> int:
    from gunicorn.app.base import BaseApplication

    _multiprocess_metrics_dir()

    class QAGunicorn(BaseApplication):
        def load_config(self) -> None:
            for key, value in gunicorn_options(settings).items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            # runs once, in the master, before the workers are forked (preload_app)
            return _preloaded_app(settings)

    QAGunicorn().run()
    return 0


def _preloaded_app(settings: Settings) -> Any:
    """The app, with the libraries every worker needs imported but nothing loaded that holds a
    thread or a file handle (see the module docstring); ``post_fork`` loads those per worker."""
    import onnxruntime  # noqa: F401
    import tokenizers  # noqa: F401

    from qa.service import QAService
    from qa.text.sentences import import_spacy
    from qa.web import create_app

    import_spacy()
    service = QAService(settings)
    app = create_app(settings, service)
    app.config["QA_POST_FORK"] = lambda: _worker_ready(service, settings.server.workers)
    return app


def _worker_ready(service: Any, workers: int) -> None:
    """In each worker after the fork: its share of the cores, then models and index."""
    _share_cores(workers)
    service.warm_up()


def _multiprocess_metrics_dir() -> None:
    """Let every worker's metrics be scraped from any worker (see qa.web.metrics)."""
    if "prometheus_client" in sys.modules:
        return  # too late: the value class is chosen at import; per-worker metrics then
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    directory = tempfile.mkdtemp(prefix="qa-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    main_pid = os.getpid()

    def cleanup() -> None:
        if os.getpid() == main_pid:  # workers run atexit too; only the master owns the folder
            shutil.rmtree(directory, ignore_errors=True)

    atexit.register(cleanup)


def _share_cores(workers: int) -> None:
    """Give each worker an equal share of the cores (``qa.cores``); the operator's
    ``OMP_NUM_THREADS`` wins."""
    from qa import cores

    cores.share(workers)
