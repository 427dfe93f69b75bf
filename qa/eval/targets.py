"""Where questions go: the library in this process, or a running service over HTTP.

Both hand back ``Result.to_dict()``-shaped dicts, so scoring cannot tell them apart and the HTTP
numbers describe exactly what users of the service get.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Protocol

from qa.eval.squad import DataError
from qa.pipeline import Pipeline
from qa.settings import Settings
from qa.text.validate import check_question
from qa.types import Document, Filters, Passage

#: questions per /api/ask/batch request: large enough to amortize retrieval, small enough that
#: one request stays well under the service's timeouts
HTTP_BATCH = 32
#: documents per POST /api/documents when a token lets us add missing ones
UPLOAD_BATCH = 64


class TargetError(OSError):
    """The service cannot be reached or refused a request."""


class Target(Protocol):
    name: str
    #: confidence at or above which an answer is given (the reader's calibrated default or the
    #: configured one)
    threshold: float
    #: True when results carry the best span even below ``threshold`` (then the best abstention
    #: threshold can be searched on both sides of the operating one)
    sees_below_threshold: bool
    #: True when the reader can be handed a passage directly (gold-passage mode needs no index)
    reads_directly: bool

    def describe(self) -> dict[str, Any]: ...

    def ensure_documents(self, docs: list[Document]) -> None: ...

    def ensure_default_index(self) -> None: ...

    def ask(self, questions: list[str], doc_id: str | None = None) -> list[dict[str, Any]]: ...

    def read(self, question: str, doc: Document) -> dict[str, Any]: ...

    def search(self, queries: list[str], k: int) -> list[list[dict[str, Any]]]: ...


class LocalTarget:
    """The library in-process, its stages composed here as ``QAService`` composes them. Results
    keep the reader's best span whatever its confidence (answers are cited at a threshold of 0);
    answered-or-not is decided here against the real threshold, which gives the same answers the
    service gives and lets the best threshold be found below the default as well as above it."""

    name = "in-process"
    sees_below_threshold = True
    reads_directly = True

    def __init__(self, settings: Settings, *, with_reader: bool = True) -> None:
        """``with_reader=False`` for retrieval-only runs, which then need no reader model."""
        self.settings = settings
        self.pipeline = Pipeline(settings)
        self.threshold = self.pipeline.threshold() if with_reader else 0.0
        self.reader_name = self.pipeline.reader.name if with_reader else None

    def describe(self) -> dict[str, Any]:
        return {
            "target": self.name,
            "reader": self.reader_name,
            "embed_model": self.settings.models.embed_model,
            "index_dir": str(self.settings.storage.index_dir),
            "top_k": self.settings.retrieval.top_k,
            "threshold": self.threshold,
        }

    def ensure_documents(self, docs: list[Document]) -> None:
        """Add what the index lacks; documents already there unchanged are skipped."""
        self.pipeline.add(docs, progress=True)

    def ensure_default_index(self) -> None:
        report = self.pipeline.ensure_index()
        if report is not None and (report.added or report.replaced):  # else nothing was built
            print(
                f"built the index in {self.settings.storage.index_dir} from "
                f"{', '.join(map(str, self.settings.indexing.corpus))}: "
                f"{len(report.added)} documents, {report.chunks} chunks",
                file=sys.stderr,
            )

    def ask(self, questions: list[str], doc_id: str | None = None) -> list[dict[str, Any]]:
        filters = Filters(doc_ids=[doc_id]) if doc_id else None
        asked = [self._question(q) for q in questions]
        top_k = self.settings.retrieval.top_k
        return [r.to_dict() for r in self.pipeline.ask(asked, top_k, filters, threshold=0.0)]

    def read(self, question: str, doc: Document) -> dict[str, Any]:
        passage = Passage(doc.id, 0, 0, len(doc.text), doc.text, doc.meta, score=1.0, rank=1)
        return self.pipeline.read(self._question(question), [passage], threshold=0.0).to_dict()

    def search(self, queries: list[str], k: int) -> list[list[dict[str, Any]]]:
        asked = [self._question(q) for q in queries]
        return [[p.to_dict() for p in ps] for ps in self.pipeline.retriever.batch_search(asked, k)]

    def close(self) -> None:
        self.pipeline.close()

    def _question(self, question: str) -> str:
        """Checked and stripped as the service checks what it is asked."""
        return check_question(question, self.settings.limits)


class HttpTarget:
    """A running ``qa serve``: questions through ``/api/ask/batch``, passages through
    ``/api/search``. The service applies its own threshold, so only answers above it are seen."""

    sees_below_threshold = False
    reads_directly = False

    def __init__(self, url: str, token: str | None = None, timeout: float = 600.0) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise DataError(f"--url must look like http://HOST:PORT, not {url!r}")
        self.base = url.rstrip("/")
        self.name = self.base
        self.token = token
        self.timeout = timeout
        self.health = self._call("GET", "/healthz")
        self.threshold = float(self.health.get("threshold") or 0.0)

    def describe(self) -> dict[str, Any]:
        return {
            "target": self.base,
            "reader": self.health.get("reader"),
            "embed_model": self.health.get("embed_model"),
            "index_dir": self.health.get("index_dir"),
            "top_k": None,  # the service's default
            "threshold": self.threshold,
        }

    def ensure_documents(self, docs: list[Document]) -> None:
        listed = self._call("GET", "/api/documents").get("documents", [])
        have = {d["id"] for d in listed}
        missing = [d for d in docs if d.id not in have]
        if not missing:
            return
        if not self.token:
            raise TargetError(
                f"the service at {self.base} lacks {len(missing)} of the {len(docs)} documents "
                f"of this data set (e.g. {missing[0].id!r}); pass --token (or QA_API_TOKEN) to "
                "add them, or serve an index that holds them (e.g. one built by "
                "`qa eval DATA --index DIR`)"
            )
        for i in range(0, len(missing), UPLOAD_BATCH):
            records = [
                {"id": d.id, "text": d.text, "title": d.title}
                for d in missing[i : i + UPLOAD_BATCH]
            ]
            self._call("POST", "/api/documents", {"documents": records})

    def ensure_default_index(self) -> None:
        if not self.health.get("documents"):
            raise TargetError(f"the service at {self.base} has an empty index")

    def ask(self, questions: list[str], doc_id: str | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"questions": questions}
        if doc_id:
            body["filters"] = {"doc_ids": [doc_id]}
        started = time.perf_counter()
        results: list[dict[str, Any]] = self._call("POST", "/api/ask/batch", body)["results"]
        per_question = (time.perf_counter() - started) * 1000 / max(len(questions), 1)
        for r in results:  # what a client waits for, the batch's wall time shared out
            r.setdefault("timings_ms", {})["http"] = round(per_question, 2)
        return results

    def read(self, question: str, doc: Document) -> dict[str, Any]:
        """No reader-only endpoint: the closest is retrieval restricted to the gold document."""
        return self.ask([question], doc.id)[0]

    def search(self, queries: list[str], k: int) -> list[list[dict[str, Any]]]:
        out = []
        for q in queries:
            query = urllib.parse.urlencode({"q": q, "top_k": k})
            out.append(self._call("GET", f"/api/search?{query}")["passages"])
        return out

    def close(self) -> None:
        pass

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token and method != "GET":
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise TargetError(
                f"{method} {self.base}{path.split('?')[0]}: HTTP {exc.code}: {_error_text(exc)}"
            ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TargetError(f"cannot reach {self.base}: {reason}") from None
        except json.JSONDecodeError:
            raise TargetError(
                f"{self.base}{path}: the reply is not JSON; is it qa serve?"
            ) from None


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        payload = json.loads(exc.read())
        return str(payload["error"]["message"])
    except Exception:
        return str(exc.reason)
