"""Prometheus metrics for one app.

Each app gets its own ``CollectorRegistry`` so several apps in one process (tests) never clash.
Under gunicorn with several workers ``qa serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before any
worker starts; prometheus_client then keeps values in files there and ``/metrics`` adds up all
workers, so a scrape does not depend on which worker answers it.
"""

from __future__ import annotations

import functools
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

#: seconds; answering runs from a few ms (cache-warm search) to seconds (big batches)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "qa_http_requests",
            "HTTP requests answered, by endpoint, method and status",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        timer = functools.partial(Histogram, buckets=LATENCY_BUCKETS, registry=self.registry)
        self.latency = timer(
            "qa_http_request_duration_seconds",
            "Time to answer an HTTP request, by endpoint",
            ["endpoint", "method"],
        )
        self.stages = timer(
            "qa_stage_duration_seconds",
            "Time spent per pipeline stage of one question (retrieve, read, cite, total)",
            ["stage"],
        )
        self.answers = Counter(
            "qa_answers",
            "Questions answered, by outcome (answer or abstain)",
            ["outcome"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "qa_overload_rejections",
            "Requests answered 503 because the worker's in-flight queue was full",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "qa_in_flight_requests",
            "Requests admitted and not yet answered",
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def observe_result(self, timings_ms: dict[str, float], answered: bool) -> None:
        for stage, ms in timings_ms.items():
            self.stages.labels(stage).observe(max(0.0, float(ms)) / 1000.0)
        self.answers.labels("answer" if answered else "abstain").inc()

    def render(self) -> tuple[bytes, str]:
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory and os.path.isdir(directory):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
