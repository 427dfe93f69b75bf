"""``/docs``: the OpenAPI spec as a page people can read and try (Swagger UI).

Swagger UI's files come from the swagger-ui-py package and are served from here, so nothing is
fetched from outside at run time; the page's start-up script is a static file of ours, so the
page keeps the strict CSP the rest of the site has (no inline script or style).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from flask import Blueprint, Response, abort, render_template, send_from_directory

bp = Blueprint("docs", __name__)

#: the files of Swagger UI the page loads; nothing else of the package is served
SWAGGER_UI_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css"})


@functools.cache
def swagger_ui_dir() -> Path:
    """The package's folder of Swagger UI files, found without importing the package (its
    ``__init__`` imports an adapter for every web framework it knows)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@bp.get("/docs")
def docs() -> str:
    return render_template("docs.html")


@bp.get("/docs/swagger-ui/<name>")
def swagger_ui_file(name: str) -> Response:
    if name not in SWAGGER_UI_FILES:
        abort(404)
    return send_from_directory(swagger_ui_dir(), name, max_age=24 * 3600)
