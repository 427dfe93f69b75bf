"""Shrink a Hugging Face model folder for a size-limited transfer, and restore it.

Training may run on a machine that can only be sent a few tens of megabytes (a borrowed GPU
here). A base model's fp32 weights do not fit, but as a starting point for fine-tuning they need
not be exact: every matrix is rounded to int8 with one scale per row, and the word embeddings
(the largest matrix, each row of which feeds the network alone, so its rounding errors do not
add up across a product) to 4 bits in groups of 64 with one scale per group; fine-tuning then
adapts to what was lost. Rounding the feed-forward blocks to 4 bits instead moved the encoder's
outputs far more for a similar saving. Vectors (biases, LayerNorms) stay in fp16. The packed
form is one ``.npz`` cut into parts of a chosen size, so they can travel separately; ``unpack``
joins them, checks the hash recorded at packing time and writes an fp32 ``model.safetensors``
beside the folder's other files (config, tokenizer).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "qa-packed-model"
VERSION = 1
GROUP = 64
WEIGHTS = "model.safetensors"
MANIFEST = "packed.json"
FOUR_BIT = re.compile(r"word_embeddings\.weight$")


def _quantize_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.abs(w).max(axis=1, keepdims=True) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def _quantize_groups(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = w.reshape(-1, GROUP)
    scale = np.abs(flat).max(axis=1, keepdims=True) / 7.0
    scale[scale == 0] = 1.0
    q = (np.clip(np.rint(flat / scale), -7, 7).astype(np.int16) + 8).astype(np.uint8)
    packed = (q[:, 0::2] | (q[:, 1::2] << 4)).astype(np.uint8)
    return packed, scale.astype(np.float16)


def _dequantize_groups(packed: np.ndarray, scale: np.ndarray, shape: list[int]) -> np.ndarray:
    lo = (packed & 0x0F).astype(np.int16) - 8
    hi = (packed >> 4).astype(np.int16) - 8
    q = np.empty((packed.shape[0], GROUP), dtype=np.float32)
    q[:, 0::2], q[:, 1::2] = lo, hi
    return (q * scale.astype(np.float32)).reshape(shape)


def pack(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    part_bytes: int = 50 << 20,
    four_bit: bool = True,
) -> list[Path]:
    """Write ``out_dir/packed.json``, the folder's small files and ``weights.npz.NNN`` parts.
    ``four_bit=False`` keeps every matrix in int8 (a fine-tuned model to be trained further)."""
    from safetensors.numpy import load_file

    src = Path(model_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = src / WEIGHTS
    tensors = load_file(str(weights))
    arrays: dict[str, np.ndarray] = {}
    entries: dict[str, dict[str, object]] = {}
    for name, t in tensors.items():
        w = t.astype(np.float32)
        if not np.issubdtype(t.dtype, np.floating):
            arrays[f"{name}::v"] = t
            scheme = "raw"
        elif w.ndim == 2 and four_bit and FOUR_BIT.search(name) and w.size % GROUP == 0:
            arrays[f"{name}::q"], arrays[f"{name}::s"] = _quantize_groups(w)
            scheme = "int4-group"
        elif w.ndim == 2:
            arrays[f"{name}::q"], arrays[f"{name}::s"] = _quantize_rows(w)
            scheme = "int8-row"
        else:
            arrays[f"{name}::v"] = w.astype(np.float16)
            scheme = "fp16"
        entries[name] = {"scheme": scheme, "shape": list(w.shape), "dtype": str(t.dtype)}
    buf = io.BytesIO()
    savez: Any = np.savez  # its stubs read ``**arrays`` as its keyword options
    savez(buf, **arrays)
    blob = buf.getvalue()
    parts: list[Path] = []
    for k in range(0, len(blob), part_bytes):
        part = out / f"weights.npz.{k // part_bytes:03d}"
        part.write_bytes(blob[k : k + part_bytes])
        parts.append(part)
    for f in sorted(src.iterdir()):
        if f.is_file() and f.name != WEIGHTS and f.suffix in {".json", ".txt", ".model"}:
            shutil.copy2(f, out / f.name)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "source_sha256": _sha256(weights.read_bytes()),
        "packed_sha256": _sha256(blob),
        "parts": [p.name for p in parts],
        "tensors": entries,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return [out / MANIFEST, *parts]


def unpack(packed_dirs: list[str | Path], out_dir: str | Path) -> Path:
    """Join the parts (found in any of ``packed_dirs``) into a loadable model folder."""
    from safetensors.numpy import save_file

    dirs = [Path(d) for d in packed_dirs]
    manifests = [d / MANIFEST for d in dirs if (d / MANIFEST).exists()]
    if not manifests:
        raise ValueError(f"no {MANIFEST} in {', '.join(map(str, dirs))}")
    meta = json.loads(manifests[0].read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError(f"{manifests[0]}: not a {FORMAT} v{VERSION} manifest")
    chunks: list[bytes] = []
    for name in meta["parts"]:
        found = [d / name for d in dirs if (d / name).exists()]
        if not found:
            raise ValueError(f"part {name} is missing from {', '.join(map(str, dirs))}")
        chunks.append(found[0].read_bytes())
    blob = b"".join(chunks)
    if _sha256(blob) != meta["packed_sha256"]:
        raise ValueError("the joined parts do not match the hash recorded when they were packed")
    arrays = np.load(io.BytesIO(blob))
    tensors: dict[str, np.ndarray] = {}
    for name, e in meta["tensors"].items():
        shape = e["shape"]
        if e["scheme"] == "int4-group":
            w = _dequantize_groups(arrays[f"{name}::q"], arrays[f"{name}::s"], shape)
        elif e["scheme"] == "int8-row":
            w = arrays[f"{name}::q"].astype(np.float32) * arrays[f"{name}::s"]
        elif e["scheme"] == "raw":
            w = arrays[f"{name}::v"]
        else:
            w = arrays[f"{name}::v"].astype(np.float32)
        tensors[name] = np.ascontiguousarray(w.astype(e["dtype"]))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / WEIGHTS))
    for f in sorted(manifests[0].parent.iterdir()):
        if f.is_file() and f.name != MANIFEST and not f.name.startswith("weights.npz."):
            shutil.copy2(f, out / f.name)
    (out / "unpacked-from.json").write_text(
        json.dumps({k: meta[k] for k in ("format", "version", "source_sha256")}, indent=1),
        encoding="utf-8",
    )
    return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
