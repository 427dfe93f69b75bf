"""What the views of one app share (the service, its settings, the in-flight limiter, metrics and
the write limiter), kept on ``app.extensions["qa"]``. A module of its own, so that the views
reach it without importing the package that registers them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from flask import current_app

from qa.settings import Settings
from qa.web.limits import InFlightLimiter, RateLimiter

if TYPE_CHECKING:
    from qa.service import QAService
    from qa.web.metrics import Metrics

T = TypeVar("T")


@dataclass
class WebState:
    """What the views need, kept on ``app.extensions["qa"]``."""

    service: QAService
    settings: Settings
    limiter: InFlightLimiter
    metrics: Metrics
    writes: RateLimiter

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the library when this request's turn to use the models comes."""
        with self.limiter.running():
            return fn(*args, **kwargs)


def state() -> WebState:
    web_state: WebState = current_app.extensions["qa"]
    return web_state
