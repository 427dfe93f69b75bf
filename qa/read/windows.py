"""Question + passage pairs cut into model windows, with the offsets and sequence ids the reader
needs to map logits back to characters.

Two tokenizers make the same windows. ``FastTokenizer`` runs the ``tokenizers`` library straight
from a model folder's ``tokenizer.json``: the shipped ONNX reader needs nothing else, so a server
never imports transformers (nor torch, which transformers pulls in). ``HFTokenizer`` wraps a
transformers fast tokenizer, for Hugging Face models that come without a ``tokenizer.json``
(hub ids, older folders). Windows are those of transformers' ``truncation="only_second"`` with
``return_overflowing_tokens``: each passage's first window, then its overflow windows, each
sharing ``stride`` tokens with the one before; ``tests/readers/test_windows.py`` holds the two to
the same output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"


@dataclass
class Windows:
    """Windows of a batch of pairs, padded to the longest (padding: id ``pad_id``, mask 0,
    offsets (0, 0), sequence id None)."""

    input_ids: np.ndarray  # (windows, width) int64
    attention_mask: np.ndarray  # (windows, width) int64
    token_type_ids: np.ndarray  # (windows, width) int64
    offsets: np.ndarray  # (windows, width, 2) int64: character offsets in the window's passage
    sequence_ids: list[list[int | None]]  # per token: 0 question, 1 passage, None special/pad
    passage: np.ndarray  # (windows,) int64: the index of the passage each window comes from

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "token_type_ids": self.token_type_ids,
        }


class PairTokenizer(Protocol):
    def windows(self, question: str, passages: list[str]) -> Windows: ...

    def trim(self, question: str, max_tokens: int) -> str: ...


class FastTokenizer:
    """Windows from ``tokenizer.json`` through the ``tokenizers`` library (no transformers)."""

    def __init__(self, model_dir: Path, max_length: int, stride: int) -> None:
        from tokenizers import Tokenizer

        path = model_dir / TOKENIZER_FILE
        config = _read_config(model_dir / TOKENIZER_CONFIG)
        # tokenizer.json may carry a padding and truncation of its own (the one it was saved
        # with); transformers replaces them on every call, and so do these two settings
        self._pairs = Tokenizer.from_file(str(path))
        self._pairs.no_padding()
        self._pairs.enable_truncation(
            max_length,
            stride=stride,
            strategy="only_second",
            direction=str(config.get("truncation_side", "right")),
        )
        self._plain = Tokenizer.from_file(str(path))
        self._plain.no_padding()
        self._plain.no_truncation()
        pad_token = config.get("pad_token")
        if isinstance(pad_token, dict):  # an AddedToken saved whole
            pad_token = pad_token.get("content")
        pad_id = self._plain.token_to_id(str(pad_token)) if pad_token else None
        self.pad_id = int(pad_id) if pad_id is not None else 0
        self.pad_type_id = int(config.get("pad_token_type_id", 0))
        # transformers' decode tidies spaces before punctuation when the config asks for it
        self._clean_up = bool(config.get("clean_up_tokenization_spaces", False))

    def windows(self, question: str, passages: list[str]) -> Windows:
        encodings = self._pairs.encode_batch([(question, p) for p in passages])
        flat: list[Any] = []
        owner: list[int] = []
        for i, enc in enumerate(encodings):
            for window in [enc, *enc.overflowing]:
                flat.append(window)
                owner.append(i)
        width = max(len(w.ids) for w in flat)
        n = len(flat)
        ids = np.full((n, width), self.pad_id, dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        types = np.full((n, width), self.pad_type_id, dtype=np.int64)
        offsets = np.zeros((n, width, 2), dtype=np.int64)
        seq_ids: list[list[int | None]] = []
        for r, w in enumerate(flat):
            k = len(w.ids)
            ids[r, :k] = w.ids
            mask[r, :k] = w.attention_mask
            types[r, :k] = w.type_ids
            if k:
                offsets[r, :k] = w.offsets
            seq_ids.append([*w.sequence_ids, *([None] * (width - k))])
        return Windows(ids, mask, types, offsets, seq_ids, np.array(owner, dtype=np.int64))

    def trim(self, question: str, max_tokens: int) -> str:
        ids = self._plain.encode(question, add_special_tokens=False).ids
        if len(ids) <= max_tokens:
            return question
        text = str(self._plain.decode(ids[:max_tokens], skip_special_tokens=False))
        return _clean_up_tokenization(text) if self._clean_up else text


class HFTokenizer:
    """Windows from a transformers fast tokenizer (models without a ``tokenizer.json``)."""

    def __init__(self, tokenizer: Any, max_length: int, stride: int) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("a fast tokenizer is needed for offsets")
        self._tokenizer = tokenizer
        self.max_length = max_length
        self.stride = stride

    def windows(self, question: str, passages: list[str]) -> Windows:
        enc = self._tokenizer(
            [question] * len(passages),
            passages,
            truncation="only_second",
            max_length=self.max_length,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding="longest",
            return_tensors="np",
        )
        ids = np.asarray(enc["input_ids"], dtype=np.int64)
        types = enc.get("token_type_ids")
        return Windows(
            input_ids=ids,
            attention_mask=np.asarray(enc["attention_mask"], dtype=np.int64),
            token_type_ids=np.zeros_like(ids)
            if types is None
            else np.asarray(types, dtype=np.int64),
            offsets=np.asarray(enc["offset_mapping"], dtype=np.int64),
            sequence_ids=[enc.sequence_ids(w) for w in range(ids.shape[0])],
            passage=np.asarray(enc["overflow_to_sample_mapping"], dtype=np.int64),
        )

    def trim(self, question: str, max_tokens: int) -> str:
        ids = self._tokenizer(question, add_special_tokens=False)["input_ids"]
        if len(ids) <= max_tokens:
            return question
        return str(self._tokenizer.decode(ids[:max_tokens]))


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _clean_up_tokenization(text: str) -> str:
    """transformers' ``clean_up_tokenization``."""
    for before, after in (
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ):
        text = text.replace(before, after)
    return text
