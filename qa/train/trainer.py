"""Fine-tune a span-extraction head on SQuAD-style windows: a plain, resumable torch loop.

Reproducibility: the batch order of every epoch is a function of (seed, epoch) only, so a run
resumed from a checkpoint sees exactly the batches the uninterrupted run would have seen.
Batches group windows of similar length (dynamic padding), which roughly halves the cost per
step against padding every window to ``max_length`` on CPU.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qa.read.transformer import model_inputs
from qa.train.distill import distillation_loss
from qa.train.features import Window
from qa.train.tensors import collate, resolve_device

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
FINAL = "final"


@dataclass
class TrainConfig:
    base_model: str
    out: str
    max_length: int = 256
    stride: int = 64
    batch_size: int = 16
    epochs: float = 1.0
    max_steps: int | None = None
    lr: float = 3e-4
    warmup: float = 0.1
    weight_decay: float = 0.01
    seed: int = 13
    save_every: int = 50
    threads: int = 2
    bf16: bool = False  # autocast matmuls to bfloat16: several times faster on CPUs with AMX
    # "auto": a GPU when torch sees one. Only where the steps run: the batch order, the schedule
    # and the checkpoints are the same on either, so a run may resume on the other.
    device: str = "auto"
    # Weight of the distillation loss against the gold labels' (0: gold only); it applies to
    # windows that carry a teacher's logits (qa.train.distill).
    distill_alpha: float = 0.0
    temperature: float = 2.0
    teacher: str | None = None  # recorded only: the windows carry its logits


def total_steps(cfg: TrainConfig, n_windows: int) -> int:
    total = math.ceil(math.ceil(n_windows / cfg.batch_size) * cfg.epochs)
    return total if cfg.max_steps is None else min(total, cfg.max_steps)


def windows_seen(lengths: list[int], cfg: TrainConfig) -> list[int]:
    """The windows a run with ``cfg`` trains on, from its first step to its last: the only ones
    a teacher needs to score."""
    steps_per_epoch = math.ceil(len(lengths) / cfg.batch_size)
    left = total_steps(cfg, len(lengths))
    seen: set[int] = set()
    epoch = 0
    while left > 0:
        for b in batch_order(lengths, cfg.batch_size, cfg.seed, epoch)[:left]:
            seen.update(b)
        left -= steps_per_epoch
        epoch += 1
    return sorted(seen)


def batch_order(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Length-grouped, shuffled batches: shuffle, sort within mega-batches of 50 batches, cut,
    then shuffle the batches so long and short ones interleave."""
    rng = random.Random(seed * 1000 + epoch)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    mega = batch_size * 50
    batches: list[list[int]] = []
    for lo in range(0, len(idx), mega):
        group = sorted(idx[lo : lo + mega], key=lambda i: -lengths[i])
        batches.extend(group[k : k + batch_size] for k in range(0, len(group), batch_size))
    rng.shuffle(batches)
    return batches


def train(cfg: TrainConfig, windows: list[Window], *, resume: bool = False) -> Path:
    """Train and write the final model + tokenizer to ``cfg.out/final``; returns that path."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    if not windows:
        raise ValueError("no training windows")
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)

    tokenizer = AutoTokenizer.from_pretrained(cfg.base_model)
    model = AutoModelForQuestionAnswering.from_pretrained(cfg.base_model)
    device = resolve_device(cfg.device)
    model.to(device)
    pad_id = tokenizer.pad_token_id or 0
    token_types = "token_type_ids" in model_inputs(model)

    steps_per_epoch = math.ceil(len(windows) / cfg.batch_size)
    total = total_steps(cfg, len(windows))
    no_decay_names = ("bias", "LayerNorm")
    named = list(model.named_parameters())
    decay = [p for n, p in named if not any(k in n for k in no_decay_names)]
    no_decay = [p for n, p in named if any(k in n for k in no_decay_names)]
    optim = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
    )

    step = 0
    ckpt = out / CHECKPOINT
    if resume and ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        step = int(state["step"])
        log.info("resumed from %s at step %d", ckpt, step)
    sched = _schedule(optim, cfg.lr, int(total * cfg.warmup), total, step)
    (out / "train_config.json").write_text(
        json.dumps(
            {
                **asdict(cfg),
                "device_used": str(device),
                "windows": len(windows),
                "total_steps": total,
            },
            indent=2,
        )
    )

    lengths = [len(w.input_ids) for w in windows]
    logf = (out / "train.log").open("a", encoding="utf-8")
    model.train()
    t0 = time.time()
    start_step = step
    running = 0.0
    while step < total:
        epoch, pos = divmod(step, steps_per_epoch)
        batches = batch_order(lengths, cfg.batch_size, cfg.seed, epoch)
        for b in batches[pos:]:
            if step >= total:
                break
            batch = collate([windows[i] for i in b], pad_id, token_types=token_types)
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            soft = (batch.pop("soft_start", None), batch.pop("soft_end", None))
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                result = model(**batch)
            loss = result.loss
            if cfg.distill_alpha > 0 and soft[0] is not None:
                kd = distillation_loss(result.start_logits, soft[0], cfg.temperature)
                kd = (kd + distillation_loss(result.end_logits, soft[1], cfg.temperature)) / 2
                loss = (1 - cfg.distill_alpha) * loss + cfg.distill_alpha * kd
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            optim.zero_grad()
            step += 1
            running = loss.item() if step == start_step + 1 else 0.95 * running + 0.05 * loss.item()
            if step % 10 == 0 or step == total:
                rate = (time.time() - t0) / (step - start_step)
                logf.write(
                    json.dumps(
                        {
                            "time": time.strftime("%H:%M:%S"),
                            "step": step,
                            "total": total,
                            "epoch": epoch,
                            "loss": round(running, 4),
                            "lr": sched.get_last_lr()[0],
                            "s_per_step": round(rate, 3),
                            "eta_min": round(rate * (total - step) / 60, 1),
                        }
                    )
                    + "\n"
                )
                logf.flush()
            if step % cfg.save_every == 0 and step < total:
                _save_checkpoint(ckpt, model, optim, sched, step)
    logf.write(
        json.dumps({"done": True, "step": step, "wall_s": round(time.time() - t0, 1)}) + "\n"
    )
    logf.close()
    final = out / FINAL
    model.save_pretrained(final)
    tokenizer.save_pretrained(final)
    return final


def _schedule(optim: Any, lr: float, warmup: int, total: int, step: int) -> Any:
    """Linear warm-up then linear decay to zero at ``total``, positioned at ``step``.

    The learning rate is a pure function of (step, total), so a resumed run may also be given a
    different ``total`` (e.g. ``--max-steps`` when the machine turns out slower than planned): it
    continues on the schedule of the new total instead of stopping half-way down the old one."""
    import torch

    def factor(k: int) -> float:
        if k < warmup:
            return k / max(1, warmup)
        return max(0.0, (total - k) / max(1, total - warmup))

    for group in optim.param_groups:
        group["lr"] = lr
        group["initial_lr"] = lr
    return torch.optim.lr_scheduler.LambdaLR(optim, factor, last_epoch=step - 1)


def _save_checkpoint(path: Path, model: Any, optim: Any, sched: Any, step: int) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optim.state_dict(),
            "scheduler": sched.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state() if torch.cuda.is_initialized() else None,
            "step": step,
        },
        tmp,
    )
    os.replace(tmp, path)  # atomic: an interrupted save never leaves a torn checkpoint
