"""The torch plumbing that training, the teacher's scoring and the probe share: which device, and
windows into padded batches. It sits below all three, so none of them imports another for it."""

from __future__ import annotations

from typing import Any

from qa.train.features import Window


def resolve_device(name: str) -> Any:
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but torch sees no GPU")
    return torch.device(name)


#: batch widths are rounded up to a multiple of this (see ``collate``)
WIDTH_STEP = 32


def collate(windows: list[Window], pad_id: int, *, token_types: bool = True) -> dict[str, Any]:
    """``token_types=False`` for encoders without segment embeddings (MPNet, RoBERTa), whose
    ``forward`` does not take ``token_type_ids``.

    The batch is padded to a multiple of ``WIDTH_STEP`` tokens, so that a run meets a few input
    shapes, not a new one almost every step: on a CPU, batches cut to their exact longest window
    grew a run's heap until the kernel killed it, and each new shape also pays its own set-up."""
    import torch

    longest = max(len(w.input_ids) for w in windows)
    width = -(-longest // WIDTH_STEP) * WIDTH_STEP
    ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    types = torch.zeros((len(windows), width), dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    for r, w in enumerate(windows):
        n = len(w.input_ids)
        ids[r, :n] = torch.tensor(w.input_ids)
        types[r, :n] = torch.tensor(w.token_type_ids)
        mask[r, :n] = 1
    batch = {
        "input_ids": ids,
        "attention_mask": mask,
        "start_positions": torch.tensor([w.start for w in windows]),
        "end_positions": torch.tensor([w.end for w in windows]),
    }
    if token_types:
        batch["token_type_ids"] = types
    if any(w.soft_start is not None for w in windows):
        nan = float("nan")
        soft_start = torch.full((len(windows), width), nan)
        soft_end = torch.full((len(windows), width), nan)
        for r, w in enumerate(windows):
            if w.soft_start is not None:
                n = len(w.input_ids)
                soft_start[r, :n] = torch.as_tensor(w.soft_start, dtype=torch.float32)
                soft_end[r, :n] = torch.as_tensor(w.soft_end, dtype=torch.float32)
        batch["soft_start"], batch["soft_end"] = soft_start, soft_end
    return batch
