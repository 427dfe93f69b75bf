"""Soft targets from a larger reader (the teacher) for training a small one (the student).

The teacher reads exactly the text of each student window (its question, and the context from
its first to its last context token) with its own tokenizer. Its logits are carried back to the
student's tokens by character offsets: a student token's start logit is the teacher's at the
token that starts at the same character, its end logit the teacher's at the token that ends
there; the no-answer position ([CLS] / ``<s>``) maps to itself. So the two models may differ in
vocabulary and special tokens, as MiniLM's BERT pieces and MPNet's ``<s> q </s></s> c </s>`` do.

Scoring is the slow part of distillation (a base-size forward per window), so it is done once
per window and teacher, for only the windows the student will see. The cache is addressed by
window content: each saved block carries the keys of its windows, so an interrupted run resumes
with the windows not yet scored, and a later run (another seed, more steps, another student
start) scores only the windows no earlier run did. The cache records its teacher's weights and
is refused for any other teacher.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from qa.read.transformer import model_inputs
from qa.train.features import Window

log = logging.getLogger(__name__)

BLOCK = 1024  # windows per saved block of teacher logits
FORMAT = "qa-teacher-logits"
VERSION = 2
KEY_BYTES = 16


def align(
    teacher_offsets: list[tuple[int, int]],
    teacher_context: list[bool],
    student_offsets: list[tuple[int, int]],
    base: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the teacher token to take each student token's start and end logits from (-1:
    none). ``teacher_offsets`` are relative to the window text, which starts at character
    ``base`` of the context the student's offsets refer to."""
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    for k, ((s, e), ctx) in enumerate(zip(teacher_offsets, teacher_context, strict=True)):
        if ctx and e > s:
            starts.setdefault(s + base, k)
            ends[e + base] = k
    n = len(student_offsets)
    start_idx = np.full(n, -1, dtype=np.int64)
    end_idx = np.full(n, -1, dtype=np.int64)
    start_idx[0] = end_idx[0] = 0  # no answer: the first token in both models
    for p, (s, e) in enumerate(student_offsets):
        if s < 0 or e <= s:
            continue
        start_idx[p] = starts.get(s, -1)
        end_idx[p] = ends.get(e, -1)
    return start_idx, end_idx


#: the logit a label target gives every context token of an unanswerable window: low enough that
#: the softened target puts all but a vanishing share on the no-answer position
NULL_TARGET_LOGIT = -30.0


def label_unanswerable(windows: list[Window]) -> int:
    """Give each window of an unanswerable question the no-answer label as its soft target, and
    return how many.

    The teacher is not asked about these: the label is certain, and a teacher that never saw a
    near-miss question (the shipped reader, when it teaches its own successor) would teach the
    very answer the window exists to refuse. Its logits stay NaN outside the context, as a
    teacher's do."""
    n = 0
    for w in windows:
        if w.answerable:
            continue
        target = np.full(len(w.input_ids), np.nan, dtype=np.float32)
        for k, (s, _) in enumerate(w.offsets):
            if s >= 0:
                target[k] = NULL_TARGET_LOGIT
        target[0] = 0.0
        w.soft_start, w.soft_end = target, target.copy()
        n += 1
    return n


def _text_span(window: Window) -> tuple[int, int]:
    """The window's text in its context: from its first context token to its last."""
    inside = [o for o in window.offsets if o[0] >= 0]
    return (inside[0][0], inside[-1][1]) if inside else (0, 0)


def window_key(window: Window) -> bytes:
    """What the teacher's logits for a window depend on: the question, the window's text, and
    the student tokens they are carried onto (by offset from the window's start)."""
    lo, hi = _text_span(window)
    h = hashlib.blake2b(digest_size=KEY_BYTES)
    for part in (window.question, window.context[lo:hi]):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    h.update(np.asarray(window.input_ids, dtype=np.int32).tobytes())
    rel = [(s - lo, e - lo) if s >= 0 else (s, e) for s, e in window.offsets]
    h.update(np.asarray(rel, dtype=np.int64).tobytes())
    return h.digest()


def teacher_id(teacher: str) -> str:
    """The teacher's weights, by hash when it is a local folder (a hub id names itself)."""
    path = Path(teacher)
    files = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
    if not files:
        return teacher
    h = hashlib.sha256()
    for f in files:
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()


def attach_teacher(
    windows: list[Window],
    indices: list[int],
    teacher: str,
    cache: str | Path,
    *,
    bf16: bool = False,
    batch_size: int = 16,
    threads: int = 2,
    device: str = "auto",
) -> None:
    """Set ``soft_start``/``soft_end`` on ``windows[i]`` for each ``i`` in ``indices``, scoring
    with ``teacher`` (a Hugging Face question-answering model) the windows not yet in ``cache``."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from qa.train.tensors import resolve_device

    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "version": VERSION, "teacher": teacher_id(teacher)}
    path = cache / "manifest.json"
    if path.exists():
        found = json.loads(path.read_text(encoding="utf-8"))
        if found != manifest:
            changed = [k for k in manifest if found.get(k) != manifest[k]]
            raise ValueError(
                f"{cache} holds teacher logits of another teacher or format "
                f"({', '.join(changed)} differ); use another --teacher-cache or delete it"
            )
    else:
        path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")

    wanted: dict[bytes, list[int]] = {}
    for i in sorted(set(indices)):
        wanted.setdefault(window_key(windows[i]), []).append(i)
    blocks: dict[Path, list[bytes]] = {}  # each saved block's window keys, in its row order
    for f in sorted(cache.glob("block-*[0-9].npz")):
        with np.load(f) as data:
            blocks[f] = [bytes(k) for k in data["keys"]]
    held = {k for keys in blocks.values() for k in keys}
    todo = [key for key in wanted if key not in held]
    if todo:
        torch.set_num_threads(threads)
        tokenizer = AutoTokenizer.from_pretrained(teacher)
        model = AutoModelForQuestionAnswering.from_pretrained(teacher).eval()
        model.to(resolve_device(device))
        names = model_inputs(model)
        first = 1 + max((int(f.stem.split("-")[1]) for f in blocks), default=-1)
        chunks = [todo[k : k + BLOCK] for k in range(0, len(todo), BLOCK)]
        t0 = time.time()
        for n, chunk in enumerate(chunks):
            rows = [wanted[key][0] for key in chunk]
            starts, ends = _score(windows, rows, tokenizer, model, names, bf16, batch_size)
            packed = np.frombuffer(b"".join(chunk), np.uint8)
            name = f"block-{first + n:05d}"
            tmp = cache / f"{name}.tmp.npz"
            np.savez_compressed(
                tmp, keys=packed.reshape(-1, KEY_BYTES), start=_pack(starts), end=_pack(ends)
            )
            tmp.replace(cache / f"{name}.npz")
            blocks[cache / f"{name}.npz"] = chunk
            rate = (time.time() - t0) / (n + 1)
            log.info(
                "teacher block %d/%d (%.0f s per block, %.1f min left)",
                n + 1,
                len(chunks),
                rate,
                rate * (len(chunks) - n - 1) / 60,
            )
    for f, keys in blocks.items():
        if not wanted.keys() & set(keys):
            continue
        with np.load(f) as data:
            starts, ends = _unpack(data["start"]), _unpack(data["end"])
        for key, s, e in zip(keys, starts, ends, strict=True):
            for i in wanted.get(key, ()):
                if len(s) != len(windows[i].input_ids):
                    raise ValueError(f"{f} does not match its windows; delete it")
                windows[i].soft_start, windows[i].soft_end = s, e


def _score(
    windows: list[Window],
    block: list[int],
    tokenizer: Any,
    model: Any,
    names: list[str],
    bf16: bool,
    batch_size: int,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    import torch

    texts: list[tuple[str, str, int]] = []
    for i in block:
        w = windows[i]
        lo, hi = _text_span(w)
        texts.append((w.question, w.context[lo:hi], lo))
    enc = tokenizer(
        [q for q, _, _ in texts],
        [c for _, c, _ in texts],
        truncation="only_second",
        max_length=512,
        return_offsets_mapping=True,
    )
    order = sorted(range(len(block)), key=lambda k: len(enc["input_ids"][k]))
    starts: list[np.ndarray] = [np.empty(0)] * len(block)
    ends: list[np.ndarray] = [np.empty(0)] * len(block)
    pad = tokenizer.pad_token_id or 0
    for lo in range(0, len(order), batch_size):
        rows = order[lo : lo + batch_size]
        width = max(len(enc["input_ids"][k]) for k in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        types = torch.zeros((len(rows), width), dtype=torch.long)
        for r, k in enumerate(rows):
            n = len(enc["input_ids"][k])
            ids[r, :n] = torch.tensor(enc["input_ids"][k])
            mask[r, :n] = 1
            if "token_type_ids" in enc:
                types[r, :n] = torch.tensor(enc["token_type_ids"][k])
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        dev = model.device
        with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(**{n: feed[n].to(dev) for n in names})
        s_logits = out.start_logits.float().cpu().numpy()
        e_logits = out.end_logits.float().cpu().numpy()
        for r, k in enumerate(rows):
            seq = enc.sequence_ids(k)
            s_idx, e_idx = align(
                [tuple(o) for o in enc["offset_mapping"][k]],
                [x == 1 for x in seq],
                windows[block[k]].offsets,
                texts[k][2],
            )
            starts[k] = _take(s_logits[r], s_idx)
            ends[k] = _take(e_logits[r], e_idx)
    return starts, ends


def _take(logits: np.ndarray, idx: np.ndarray) -> np.ndarray:
    out = np.full(len(idx), np.nan, dtype=np.float32)
    ok = idx >= 0
    out[ok] = logits[idx[ok]]
    return out


def _pack(rows: list[np.ndarray]) -> np.ndarray:
    """Ragged rows as one flat array: each row's length, then its values."""
    parts: list[np.ndarray] = []
    for r in rows:
        parts.append(np.array([len(r)], dtype=np.float32))
        parts.append(r.astype(np.float32))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float32)


def _unpack(flat: np.ndarray) -> list[np.ndarray]:
    rows: list[np.ndarray] = []
    k = 0
    while k < len(flat):
        n = int(flat[k])
        rows.append(flat[k + 1 : k + 1 + n].astype(np.float32))
        k += 1 + n
    return rows


def distillation_loss(student: Any, teacher: Any, temperature: float) -> Any:
    """KL(teacher || student) over the positions the teacher scored (NaN elsewhere), on logits
    softened by ``temperature`` and scaled by its square so the gradient keeps its size.
    Rows without any teacher logit contribute nothing."""
    import torch

    known = ~torch.isnan(teacher)
    rows = known.any(dim=1)
    if not bool(rows.any()):
        return student.sum() * 0.0
    s = student[rows].float() / temperature
    t = teacher[rows] / temperature
    k = known[rows]
    neg = torch.finfo(torch.float32).min
    log_s = torch.log_softmax(s.masked_fill(~k, neg), dim=-1)
    log_t = torch.log_softmax(t.masked_fill(~k, neg), dim=-1)
    kl = (log_t.exp() * (log_t - log_s)).masked_fill(~k, 0.0).sum(dim=-1)
    return kl.mean() * temperature * temperature
