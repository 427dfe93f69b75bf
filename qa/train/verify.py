"""A second opinion on an answer: does this sentence state this answer to this question?

The span model reads a whole window and learns where answers are; it learns only weakly that a
question's every constraint must hold. The verifier reads just the question, the candidate answer
and the sentence that holds it, and is trained on contrasting pairs: the same sentence and answer
with the question that it answers and with the near-miss questions made from it
(``qa.train.nearmiss``), and SQuAD 2.0's unanswerable questions with their plausible answers.
Its probability is one more feature of the fitted confidence model, not a rule.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qa.eval.squad import Example

log = logging.getLogger(__name__)

MAX_LENGTH = 128


@dataclass(frozen=True)
class Pair:
    """One verification case: 1 when ``sentence`` states ``answer`` to ``question``."""

    question: str
    answer: str
    sentence: str
    label: int
    kind: str  # answerable, a near-miss kind, or adversarial

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pair:
        return cls(
            str(data["question"]),
            str(data["answer"]),
            str(data["sentence"]),
            int(data["label"]),
            str(data["kind"]),
        )


def second_segment(answer: str, sentence: str) -> str:
    """What the verifier reads beside the question: the answer, then the sentence."""
    return f"{answer} [SEP] {sentence}"


def _sentence_around(text: str, spans: list[tuple[int, int]], start: int, end: int) -> str:
    inside = [(s, e) for s, e in spans if s < end and start < e]
    if not inside:
        return text[max(0, start - 150) : end + 150]
    return text[inside[0][0] : inside[-1][1]]


def build_pairs(
    examples: list[Example],
    near_misses: list[Any],
    adversarial: list[tuple[str, str, str, int]],
) -> list[Pair]:
    """Positives from the answerable ``examples``; negatives from the near-miss cases made from
    them (a removed fact has no sentence left to read, so it is not one), and from
    ``adversarial``: (question, paragraph, plausible answer, its offset)."""
    from qa.text.sentences import sentence_spans_many

    answerable = [e for e in examples if e.spans]
    contexts = list({e.context: None for e in answerable} | {c: None for _, c, _, _ in adversarial})
    spans = dict(zip(contexts, sentence_spans_many([(c, 0, None) for c in contexts]), strict=True))
    by_id: dict[str, tuple[str, str]] = {}
    pairs: list[Pair] = []
    for e in answerable:
        text, start = e.spans[0]
        sentence = _sentence_around(e.context, spans[e.context], start, start + len(text))
        by_id[e.id] = (text, sentence)
        pairs.append(Pair(e.question, text, sentence, 1, "answerable"))
    for nm in near_misses:
        if nm.kind == "removed_fact" or nm.source_id not in by_id:
            continue
        text, sentence = by_id[nm.source_id]
        pairs.append(Pair(nm.question, text, sentence, 0, nm.kind))
    for question, context, text, start in adversarial:
        sentence = _sentence_around(context, spans[context], start, start + len(text))
        pairs.append(Pair(question, text, sentence, 0, "adversarial"))
    return pairs


def plausible_answers(path: str | Path, titles: set[str] | None) -> list[tuple[str, str, str, int]]:
    """SQuAD 2.0's unanswerable questions with the answer a reader would be fooled into, of the
    articles ``titles`` (None: all)."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for article in raw["data"]:
        if titles is not None and article.get("title") not in titles:
            continue
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                for a in qa.get("plausible_answers") or []:
                    text, start = a["text"], int(a["answer_start"])
                    if (
                        qa.get("is_impossible")
                        and para["context"][start : start + len(text)] == text
                    ):
                        out.append((qa["question"], para["context"], text, start))
                        break
    return out


def train_verifier(
    pairs: list[Pair],
    base: str,
    out: str | Path,
    *,
    epochs: float = 1.0,
    lr: float = 3e-5,
    batch_size: int = 32,
    seed: int = 61,
    bf16: bool = True,
    threads: int = 2,
) -> Path:
    """Fine-tune ``base`` (an encoder; a QA reader's weights are a good start) with a one-logit
    head on ``pairs``; writes ``out/final``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(threads)
    random.seed(seed)
    torch.manual_seed(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    order = list(range(len(pairs)))
    steps_per_epoch = math.ceil(len(pairs) / batch_size)
    total = max(1, int(steps_per_epoch * epochs))
    optim = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda k: min((k + 1) / warmup, max(0.0, (total - k) / max(1, total - warmup)))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    step, t0 = 0, time.time()
    logf = (out / "train.log").open("a", encoding="utf-8")
    while step < total:
        random.Random(seed + step // steps_per_epoch).shuffle(order)
        for lo in range(0, len(order), batch_size):
            if step >= total:
                break
            batch = [pairs[i] for i in order[lo : lo + batch_size]]
            enc = tokenizer(
                [p.question for p in batch],
                [second_segment(p.answer, p.sentence) for p in batch],
                truncation="longest_first",
                max_length=MAX_LENGTH,
                padding=True,
                return_tensors="pt",
            )
            labels = torch.tensor([float(p.label) for p in batch])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(**enc).logits.squeeze(-1)
            loss = loss_fn(logits.float(), labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            optim.zero_grad()
            step += 1
            if step % 20 == 0 or step == total:
                logf.write(
                    json.dumps(
                        {
                            "step": step,
                            "total": total,
                            "loss": round(loss.item(), 4),
                            "s_per_step": round((time.time() - t0) / step, 3),
                        }
                    )
                    + "\n"
                )
                logf.flush()
    logf.close()
    final = out / "final"
    model.save_pretrained(final)
    tokenizer.save_pretrained(final)
    return final
