"""A quick check of a trained reader before export: best-span F1 with the gold paragraph.

The full measure (``qa calibrate-reader``, ``qa eval``) exports to ONNX, builds indexes and reads
three ways; it is what chooses and reports. This probe needs only the Hugging Face folder and a
SQuAD file, so a run on a borrowed machine can say whether its teacher and student learned
anything before their weights travel back. It scores each answerable question of the chosen
articles by the best span over its paragraph's windows (no abstention, no calibration), with the
same token F1 as ``qa eval``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.eval.metrics import best_exact, best_f1
from qa.read.spans import best_spans
from qa.read.transformer import model_inputs
from qa.train.data import load_squad, select
from qa.train.features import Window, encode_windows


@dataclass
class ProbeResult:
    model: str
    questions: int
    f1: float
    exact: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe(
    model_dir: str | Path,
    data: str | Path,
    titles: list[str],
    *,
    device: str = "auto",
    batch_size: int = 64,
    max_answer_tokens: int = 30,
) -> ProbeResult:
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from qa.train.tensors import collate, resolve_device

    examples = [e for e in select(load_squad(data), titles) if e.answerable]
    if not examples:
        raise ValueError(f"{data}: no answerable question in {titles}")
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForQuestionAnswering.from_pretrained(str(model_dir)).eval()
    dev = resolve_device(device)
    model.to(dev)
    names = set(model_inputs(model))
    # One window per question and stretch, the service's reading width.
    by_example: list[list[int]] = []
    windows: list[Window] = []
    for e in examples:
        ws = encode_windows(tokenizer, [e], max_length=384, stride=128)
        by_example.append(list(range(len(windows), len(windows) + len(ws))))
        windows.extend(ws)
    best: list[tuple[float, str]] = [(-np.inf, "")] * len(examples)
    owner = {w: k for k, ws in enumerate(by_example) for w in ws}
    pad = tokenizer.pad_token_id or 0
    for lo in range(0, len(windows), batch_size):
        rows = list(range(lo, min(lo + batch_size, len(windows))))
        batch = collate([windows[r] for r in rows], pad, token_types="token_type_ids" in names)
        feed = {k: v.to(dev) for k, v in batch.items() if k in names}
        with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16):
            out = model(**feed)
        starts = out.start_logits.float().cpu().numpy()
        ends = out.end_logits.float().cpu().numpy()
        for r, s, e in zip(rows, starts, ends, strict=True):
            w = windows[r]
            ctx = [k for k, o in enumerate(w.offsets) if o[0] >= 0]
            if not ctx:
                continue
            lo_t, hi_t = ctx[0], ctx[-1]
            (a, b, score), *_ = best_spans(
                s[lo_t : hi_t + 1], e[lo_t : hi_t + 1], max_answer_tokens, 1
            )
            k = owner[r]
            if score > best[k][0]:
                best[k] = (score, w.context[w.offsets[lo_t + a][0] : w.offsets[lo_t + b][1]])
    f1s, ems = [], []
    for e, (_, text) in zip(examples, best, strict=True):
        golds = [a for a, _ in e.spans]
        f1s.append(best_f1(text, golds))
        ems.append(float(best_exact(text, golds)))
    return ProbeResult(
        str(model_dir),
        len(examples),
        round(100 * float(np.mean(f1s)), 2),
        round(100 * float(np.mean(ems)), 2),
    )
