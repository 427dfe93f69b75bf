"""Extractive reader on a span-extraction transformer (start/end logits + [CLS] no-answer).

Two kinds of model load the same way: our shipped artifact (``qa/models/reader``: an int8 ONNX
graph run with onnxruntime, its ``tokenizer.json`` read by the tokenizers library, and
``calibration.json``), which needs neither torch nor transformers, or any Hugging Face
``AutoModelForQuestionAnswering`` directory or hub id, run with torch and its transformers
tokenizer. Both tokenizers cut passages into the same windows (``qa.read.windows``).

Scores. For every window the model gives span logits (start + end) and a null logit ([CLS] start
+ [CLS] end). Candidate spans are grouped by meaning (``qa.read.meanings``), and each meaning
gets one probability of being right from the fitted confidence model in
``calibration.json`` (``qa.read.confidence``), which also weighs how much of the reader's belief
the meaning holds, how many documents state it, how close the passages are to the question and
how much of the question they mention (``qa.read.overlap``).
Without a calibration file (a user's own model) the null margin goes through a logistic function,
which orders answers but promises no probability.

``no_answer`` is one minus the best meaning's probability: the reader answers with it or not at
all, so "no passage answers" is "the best candidate is wrong".
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa import cores
from qa.read.confidence import ConfidenceModel, Evidence, model_fingerprint
from qa.read.constraints import (
    Constraint,
    Kind,
    TextKeys,
    question_constraints,
    share_stated,
    text_keys,
)
from qa.read.meanings import group_by_meaning
from qa.read.overlap import content_terms, coverage, near
from qa.read.spans import best_spans
from qa.read.windows import TOKENIZER_FILE, FastTokenizer, HFTokenizer, PairTokenizer, Windows
from qa.text.sentences import passage_sentences, sentences_holding
from qa.types import Passage, ReaderOutput, Span

ONNX_NAME = "model.onnx"
CALIBRATION_NAME = "calibration.json"
BUCKET = 32  # windows whose lengths round up to the same multiple of this run as one batch

# Characters that never begin or end a good answer; a trailing "." is handled apart because it
# belongs to abbreviations such as "U.S." or "Inc.".
_LEAD_STRIP = set(" \t\r\n\u00a0,.;:!?)]}>\u2019\u201d")
_TRAIL_STRIP = set(" \t\r\n\u00a0,;:!?([{<\u2018\u201c")
_PAIRS = {'"': '"', "(": ")", "[": "]", "\u201c": "\u201d", "'": "'", "\u2018": "\u2019"}


def tidy_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` of ``text`` past whitespace and punctuation that does not belong to
    an answer (separators, unbalanced brackets or quotes, a sentence-final full stop). A quote or
    bracket closed inside the span and opened just before it (``soft” annexation`` of
    ``a “soft” annexation``) is taken in instead: the answer is the quoted phrase."""
    grown = False
    while True:
        before = (start, end)
        while start < end and text[start] in _LEAD_STRIP:
            start += 1
        while end > start and text[end - 1] in _TRAIL_STRIP:
            end -= 1
        if end - start >= 2 and text[end - 1] == "." and not _abbreviation(text[start : end - 1]):
            end -= 1
        if end > start:
            first, last = text[start], text[end - 1]
            inner = text[start:end]
            closer = _PAIRS.get(first)
            if closer is not None and inner.count(closer) < (2 if first == closer else 1):
                start += 1
            elif last in _PAIRS.values():
                opener = next(k for k, v in _PAIRS.items() if v == last)
                if inner.count(opener) < (2 if opener == last else 1):
                    end -= 1
        if (start, end) == before:
            if grown:
                return start, end
            grown = True
            start, end = _close_pairs(text, start, end)


# pairs a span may be grown to close: not the single quotes, whose closer is also an apostrophe
# ("Russia’s"); pairs of two different marks are tried before the straight double quote
_CLOSABLE = sorted(
    ((o, c) for o, c in _PAIRS.items() if o not in ("'", "\u2018")), key=lambda p: p[0] == p[1]
)


def _close_pairs(text: str, start: int, end: int) -> tuple[int, int]:
    inner = text[start:end]
    for opener, closer in _CLOSABLE:
        if opener == closer:
            opened_before = closed_after = inner.count(opener) % 2 == 1
        else:
            opened_before = inner.count(closer) > inner.count(opener)
            closed_after = inner.count(opener) > inner.count(closer)
        if opened_before and text[start - 1 : start] == opener:
            return start - 1, end
        if closed_after and text[end : end + 1] == closer:
            return start, end + 1
    return start, end


def whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow ``[start, end)`` to whole words. Spans start and end on word pieces, and a span that
    stops inside a word ("Alan Alboro" of "Alan Alborov") is never a right answer; grown, it
    joins the whole-word span that states the same answer."""
    while 0 < start < len(text) and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while start < end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    return start, end


_SENTENCE_END = re.compile(r"[.!?][\"'\u2019\u201d)\]]*\Z")
_SENTENCE_START = re.compile(r"[\"'\u2018\u201c(\[]*[A-Z]")


def span_breaks(text: str) -> np.ndarray:
    """Offsets in ``text`` that no answer may run across. A line break: in news text a span
    across one is a caption or a heading bleeding into the next paragraph ("(photo: Moscow
    Times)\nAFP"). The end of a sentence: an answer is a phrase within one sentence, and a span
    running on into the next joins it to words that answer nothing."""
    found = {m.start() for m in re.finditer("\n", text)}
    # each sentence's end but the last (a token ending there stays with its sentence), where
    # prose says so too: the segmenter also cuts inside formulas ("(p − 1)! + 1")
    spans = passage_sentences(text)
    found.update(
        end
        for (_, end), (nxt, _) in itertools.pairwise(spans)
        if _SENTENCE_END.search(text, max(end - 4, 0), end) and _SENTENCE_START.match(text, nxt)
    )
    return np.array(sorted(found), dtype=np.int64)


def _sentence_of(text: str, start: int, end: int) -> str:
    """The sentence (or sentences) of ``text`` holding ``text[start:end]``: where the question's
    constraints must hold for the span to answer it."""
    held = sentences_holding(text, start, end)
    if held is None:
        return text[max(0, start - 200) : end + 200]
    return text[held[0] : held[1]]


def _abbreviation(before_dot: str) -> bool:
    """True when the "." that follows ``before_dot`` belongs to the word (U.S., Inc., Dr.)."""
    word = before_dot.rsplit(None, 1)[-1] if before_dot.strip() else ""
    return "." in word or (len(word) <= 3 and word[:1].isupper())


@dataclass(frozen=True)
class _Context:
    """What every meaning of one question is judged against: the question's content terms,
    the index of each span's passage, and each passage's share of those terms."""

    asked: frozenset[str]
    passage_of: dict[int, int]
    coverages: list[float]
    constraints: list[Constraint]
    #: each passage's words as constraint keys, made when a meaning first needs them: several
    #: meanings come from one passage
    keys: dict[int, TextKeys] = field(default_factory=dict)

    def passage_keys(self, at: int, text: str) -> TextKeys:
        if at not in self.keys:
            self.keys[at] = text_keys(text)
        return self.keys[at]


#: the constraint kinds the figure features count
NUMBERS: tuple[Kind, ...] = ("number", "ordinal")


class TransformerReader:
    """Reader on a question-answering transformer; see the module docstring."""

    def __init__(
        self,
        model: str | Path,
        *,
        # one window holds a whole chunk (chunks are cut at the embedder's 256 pieces) with its
        # question: a 256-piece window split most chunks in two, and two overlapping windows cost
        # more than one longer one
        max_length: int = 384,
        stride: int = 128,
        max_answer_tokens: int = 30,
        threshold: float | None = None,
        device: str = "cpu",
        max_question_tokens: int = 64,
        # more candidates make a meaning's share of them a finer signal for the confidence model
        spans_per_window: int = 10,
        batch_size: int = 32,
    ) -> None:
        if max_length < 32 or stride < 0 or stride >= max_length // 2:
            raise ValueError("need max_length >= 32 and 0 <= stride < max_length / 2")
        self.model_ref = str(model)
        self.name = f"transformer:{self.model_ref}"
        self.max_length = max_length
        self.stride = stride
        self.max_answer_tokens = max_answer_tokens
        self.max_question_tokens = max_question_tokens
        self.spans_per_window = spans_per_window
        self.batch_size = batch_size
        self.device = device
        self._threshold = threshold
        self._lock = threading.Lock()
        self._ready = False
        self._tokenizer: PairTokenizer | None = None
        self._session: Any = None  # onnxruntime session, one core per run
        self._pool = cores.LazyPool("qa-read")
        self._torch_model: Any = None
        self._input_names: list[str] = []
        self._confidence: ConfidenceModel | None = None

    # -- loading -------------------------------------------------------------------------------

    @property
    def _dir(self) -> Path | None:
        p = Path(self.model_ref)
        return p if p.is_dir() else None

    @property
    def confidence(self) -> ConfidenceModel:
        """The fitted confidence model beside the weights; it refuses to load when it was
        fitted against other weights (``FittedArtifactMismatch``)."""
        if self._confidence is None:
            d = self._dir
            path = d / CALIBRATION_NAME if d is not None else None
            self._confidence = (
                ConfidenceModel.load(path, model_fingerprint(d))
                if d is not None and path is not None and path.exists()
                else ConfidenceModel.uncalibrated()
            )
        return self._confidence

    @property
    def default_threshold(self) -> float:
        return self._threshold if self._threshold is not None else self.confidence.threshold

    @default_threshold.setter
    def default_threshold(self, value: float) -> None:
        self._threshold = float(value)

    def uncalibrated(self) -> TransformerReader:
        """The same reader without its fitted confidence, for fitting one: scores are the
        logistic of the null margin, and every answer's ``features`` hold its evidence."""
        self._confidence = ConfidenceModel.uncalibrated()
        return self

    def warm_up(self) -> None:
        with self._lock:
            if self._ready:
                return
            d = self._dir
            if d is not None and (d / ONNX_NAME).exists():
                import onnxruntime as ort

                has_json = (d / TOKENIZER_FILE).exists()
                self._tokenizer = self._load_tokenizer(d if has_json else None)
                opts = ort.SessionOptions()
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                # one thread per run: windows run side by side instead (``_forward_alone``)
                opts.intra_op_num_threads = opts.inter_op_num_threads = 1
                self._session = ort.InferenceSession(
                    str(d / ONNX_NAME), opts, providers=["CPUExecutionProvider"]
                )
                self._input_names = [i.name for i in self._session.get_inputs()]
            else:
                import torch
                from transformers import AutoModelForQuestionAnswering

                self._tokenizer = self._load_tokenizer(None)
                try:
                    model = AutoModelForQuestionAnswering.from_pretrained(self.model_ref)
                except OSError as exc:
                    raise ValueError(f"cannot load reader model {self.model_ref!r}: {exc}") from exc
                cores.apply_to_torch()
                self._torch_model = model.to(torch.device(self.device)).eval()
                self._input_names = model_inputs(model)
            _ = self.confidence
            content_terms("warm up")  # the stop words and this thread's stemmer
            self._ready = True

    def _load_tokenizer(self, tokenizer_dir: Path | None) -> PairTokenizer:
        """``tokenizer_dir``'s ``tokenizer.json`` through the tokenizers library (an ONNX reader
        folder: serving it imports neither transformers nor torch), else transformers'
        ``AutoTokenizer`` of the model, which knows every Hugging Face model's own settings."""
        if tokenizer_dir is not None:
            return FastTokenizer(tokenizer_dir, self.max_length, self.stride)
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_ref)
        except OSError as exc:
            raise ValueError(f"cannot load reader model {self.model_ref!r}: {exc}") from exc
        try:
            return HFTokenizer(tokenizer, self.max_length, self.stride)
        except ValueError as exc:
            raise ValueError(f"{self.model_ref}: {exc}") from exc

    # -- reading -------------------------------------------------------------------------------

    def read(self, question: str, passages: list[Passage], top_n: int = 10) -> ReaderOutput:
        self.warm_up()
        question = question.strip()
        usable = [p for p in passages if p.text.strip()]
        if not question or not usable:
            return ReaderOutput(spans=[], no_answer=1.0, features={"windows": 0.0})
        tokenizer = self._tokenizer
        assert tokenizer is not None
        cut = tokenizer.windows(
            tokenizer.trim(question, self.max_question_tokens), [p.text for p in usable]
        )
        start_logits, end_logits = self._forward(cut)
        breaks = [span_breaks(p.text) for p in usable]
        raws: list[dict[str, Any]] = []
        for w in range(start_logits.shape[0]):
            passage_idx = int(cut.passage[w])
            raws.extend(
                self._window_spans(
                    start_logits[w],
                    end_logits[w],
                    cut.sequence_ids[w],
                    cut.offsets[w],
                    passage_idx,
                    breaks[passage_idx],
                )
            )
        best: dict[tuple[int, int, int], dict[str, Any]] = {}
        for cand in raws:
            passage = usable[cand["passage"]]
            s, e = tidy_span(
                passage.text, *whole_words(passage.text, cand["char_start"], cand["char_end"])
            )
            if e <= s:
                continue
            key = (cand["passage"], s, e)
            if key not in best or cand["span_logit"] > best[key]["span_logit"]:
                best[key] = {**cand, "s": s, "e": e}
        windows = float(start_logits.shape[0])
        if not best:
            return ReaderOutput(spans=[], no_answer=1.0, features={"windows": windows})
        cands = sorted(best.values(), key=lambda c: -c["span_logit"])
        logits = np.array([c["span_logit"] for c in cands])
        weights = np.exp(logits - logits.max())
        weights /= weights.sum()
        spans = [self._span(c, usable[c["passage"]]) for c in cands]
        dense_top = max((p.scores.get("dense", 0.0) for p in usable), default=0.0)
        groups = group_by_meaning(spans)
        share_of = {id(sp): float(w) for sp, w in zip(spans, weights, strict=True)}
        asked = content_terms(question)
        context = _Context(
            asked,
            {id(sp): c["passage"] for sp, c in zip(spans, cands, strict=True)},
            [coverage(asked, p.text) for p in usable],
            question_constraints(question),
        )
        evidence = [self._evidence(g, share_of, dense_top, usable, context) for g in groups]
        probs = np.clip(
            self.confidence.probability(np.vstack([ev.vector() for ev in evidence])), 0, 1
        )
        out: list[Span] = []
        for gi in sorted(range(len(groups)), key=lambda i: -probs[i]):
            feats = evidence[gi].as_features()
            for sp in groups[gi]:
                out.append(
                    replace(
                        sp,
                        score=round(float(probs[gi]), 6),
                        features={**sp.features, **feats},
                        meaning=gi,
                    )
                )
        out = out[:top_n]
        top = out[0]
        return ReaderOutput(
            spans=out,
            no_answer=round(1.0 - top.score, 6),
            features={"windows": windows, **{f"best_{k}": v for k, v in top.features.items()}},
        )

    @staticmethod
    def _span(cand: dict[str, Any], passage: Passage) -> Span:
        s, e = cand["s"], cand["e"]
        return Span(
            text=passage.text[s:e],
            doc_id=passage.doc_id,
            start=passage.start + s,
            end=passage.start + e,
            score=0.0,
            passage_rank=passage.rank,
            features={
                "start_logit": round(cand["start_logit"], 4),
                "end_logit": round(cand["end_logit"], 4),
                "span_logit_raw": round(cand["span_logit"], 4),
                "null_margin_raw": round(cand["null_margin"], 4),
                "span_prob_raw": round(cand["span_prob"], 6),
                "dense_raw": round(passage.scores.get("dense", 0.0), 6),
            },
        )

    @staticmethod
    def _evidence(
        group: list[Span],
        share_of: dict[int, float],
        dense_top: float,
        passages: list[Passage],
        context: _Context,
    ) -> Evidence:
        """The features of one meaning: its best member's span numbers (members come best
        first), its total share, its supporting documents, and how much of the question its
        passage and the sentences around it mention."""
        best = group[0]
        f = best.features
        at = context.passage_of[id(best)]
        own = passages[at]
        s = best.start - own.start
        sentence = _sentence_of(own.text, s, s + len(best.text))
        in_sentence = text_keys(sentence if context.constraints else "")
        in_passage = context.passage_keys(at, own.text if context.constraints else "")
        return Evidence(
            null_margin=max(sp.features["null_margin_raw"] for sp in group),
            span_logit=f["span_logit_raw"],
            span_prob=max(sp.features["span_prob_raw"] for sp in group),
            share=sum(share_of[id(sp)] for sp in group),
            documents=len({sp.doc_id for sp in group}),
            dense_top=dense_top,
            dense_own=f["dense_raw"],
            rank=best.passage_rank or len(passages),
            terms_top=max(context.coverages),
            terms_own=context.coverages[at],
            terms_near=coverage(context.asked, near(own.text, s, s + len(best.text))),
            names_sentence=share_stated(context.constraints, in_sentence, ("name",)),
            names_passage=share_stated(context.constraints, in_passage, ("name",)),
            figures_sentence=share_stated(context.constraints, in_sentence, NUMBERS),
            figures_passage=share_stated(context.constraints, in_passage, NUMBERS),
            constraints=len(context.constraints),
        )

    def _forward(self, windows: Windows) -> tuple[np.ndarray, np.ndarray]:
        """Start/end logits of every window, padded to the encoding's width."""
        n, width = windows.input_ids.shape
        lengths = windows.attention_mask.sum(axis=1)
        starts = np.full((n, width), -1e4, dtype=np.float32)
        ends = np.full((n, width), -1e4, dtype=np.float32)
        given = windows.arrays()
        arrays = {name: given[name] for name in self._input_names}
        if self._session is not None:
            self._forward_alone(arrays, lengths, starts, ends)
            return starts, ends
        # torch: windows of similar length (buckets of BUCKET tokens) run as one batch, each
        # batch cut to its longest real window, so short overflow windows are not padded out
        buckets: dict[int, list[int]] = {}
        for w, length in enumerate(lengths):
            buckets.setdefault(-(-int(length) // BUCKET), []).append(w)
        for rows in buckets.values():
            for lo in range(0, len(rows), self.batch_size):
                sel = np.array(rows[lo : lo + self.batch_size])
                cut = int(lengths[sel].max())
                feed = {name: arr[sel, :cut] for name, arr in arrays.items()}
                s, e = self._run(feed)
                starts[sel, :cut] = s
                ends[sel, :cut] = e
        return starts, ends

    def _forward_alone(
        self,
        arrays: dict[str, np.ndarray],
        lengths: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
    ) -> None:
        """The int8 graph runs every window alone: dynamic quantisation scales each activation
        tensor by its own range, so in a batch a window's logits would depend on the windows
        (the passages) read beside it, and on their padding. Windows run side by side, one per
        core of this process's share (``qa.cores``), longest first; on a CPU that is also faster
        than one padded batch spread over the same cores."""

        def run(w: int) -> None:
            cut = int(lengths[w])
            feed = {name: arr[w : w + 1, :cut] for name, arr in arrays.items()}
            s, e = self._session.run(["start_logits", "end_logits"], feed)
            starts[w, :cut], ends[w, :cut] = s[0], e[0]

        order = [int(w) for w in np.argsort(-lengths, kind="stable")]
        threads = min(cores.budget(), len(order))
        if threads > 1:
            list(self._pool.get(cores.budget()).map(run, order))
        else:
            for w in order:
                run(w)

    def _run(self, feed: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            out = self._torch_model(
                **{k: torch.from_numpy(v).to(self.device) for k, v in feed.items()}
            )
        return out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()

    def _window_spans(
        self,
        s: np.ndarray,
        e: np.ndarray,
        seq_ids: list[int | None],
        offsets: np.ndarray,
        passage_idx: int,
        breaks: np.ndarray,
    ) -> list[dict[str, Any]]:
        """The window's best spans; ``breaks`` are the passage's line-break offsets, which no
        span may cross."""
        ctx = np.array([k for k, sid in enumerate(seq_ids) if sid == 1], dtype=np.int64)
        if ctx.size == 0:
            return []
        valid = np.array([sid is not None for sid in seq_ids])

        # softmax over the real tokens of the window (padding excluded), [CLS] included
        def log_softmax(x: np.ndarray) -> np.ndarray:
            x = np.where(valid, x, -np.inf)
            m = x.max()
            return np.asarray(x - m - math.log(float(np.exp(x - m).sum())))

        ls, le = log_softmax(s), log_softmax(e)
        null = float(s[0] + e[0])
        same_line = None
        if breaks.size:
            first = np.searchsorted(breaks, offsets[ctx, 0])
            last = np.searchsorted(breaks, offsets[ctx, 1])
            same_line = first[:, None] == last[None, :]
        out = []
        for a, b, _ in best_spans(
            s[ctx], e[ctx], self.max_answer_tokens, self.spans_per_window, same_line
        ):
            ta, tb = int(ctx[a]), int(ctx[b])
            span_logit = float(s[ta] + e[tb])
            out.append(
                {
                    "passage": passage_idx,
                    "char_start": int(offsets[ta][0]),
                    "char_end": int(offsets[tb][1]),
                    "start_logit": float(s[ta]),
                    "end_logit": float(e[tb]),
                    "span_logit": span_logit,
                    "null_margin": span_logit - null,
                    "span_prob": float(math.exp(ls[ta] + le[tb])),
                }
            )
        return out


def model_inputs(model: Any) -> list[str]:
    """The window arrays a transformers QA model takes: encoders without segment embeddings
    (MPNet, RoBERTa) have no ``token_type_ids`` argument, and MPNet's third positional argument
    is ``position_ids``, so inputs always go by name."""
    import inspect

    names = ["input_ids", "attention_mask", "token_type_ids"]
    accepted = inspect.signature(model.forward).parameters
    return [n for n in names if n in accepted]
