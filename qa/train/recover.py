"""Recover trainable fp32 weights from a shipped int8 ONNX reader.

Why: the shipped reader is the best MiniLM student there is, but its fp32 weights live only in a
training cache, and a new machine may have lost that cache. Distilling a stronger teacher into
the shipped weights (rather than into the bare encoder) keeps what earlier stages learned, so the
recipe must be able to start from what the repository holds. Dequantising is lossy only by the
int8 rounding, which the next round of training absorbs.

The mapping from graph to parameters relies on how ``qa.train.export`` writes the graph: the
exporter names each ``MatMul`` node after its module (``/model/<module path>/MatMul``), names the
other initializers after their parameters (``model.<parameter>``), and onnxruntime's dynamic
quantiser keeps those names with ``_quantized``/``_scale``/``_zero_point`` suffixes. Every
parameter of the model the config describes must be found exactly once, or nothing is written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from qa.read.transformer import ONNX_NAME

_MATMUL_OUTPUT = re.compile(r"^/model/(?P<module>.+)/MatMul_output_0(?:_output_quantized)?$")


class RecoveryError(ValueError):
    """The graph does not hold exactly the parameters its config describes."""


def dequantized_weights(onnx_path: str | Path) -> dict[str, np.ndarray]:
    """Parameter name (as in the PyTorch model) -> fp32 array, from an (int8) ONNX reader."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    # the exporter keeps one copy of equal tensors (a fresh model's LayerNorm weights, say) and
    # names the others through Identity nodes
    alias = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity"}
    weights: dict[str, np.ndarray] = {}

    def value(name: str) -> np.ndarray | None:
        while name in alias:
            name = alias[name]
        return init.get(name)

    def put(name: str, array: np.ndarray) -> None:
        if name in weights:
            raise RecoveryError(f"{onnx_path}: parameter {name} appears twice")
        weights[name] = array.astype(np.float32)

    def dequantize(stem: str) -> np.ndarray:
        q = init[stem + "_quantized"].astype(np.float32)
        scale = init[stem + "_scale"].astype(np.float32)
        zero = init[stem + "_zero_point"].astype(np.float32)
        # per-tensor scales are scalars; per-channel ones run along the output axis, which for a
        # MatMul weight stored (in, out) is the last
        return (q - zero) * scale

    for node in graph.node:
        match = _MATMUL_OUTPUT.match(node.output[0])
        if node.op_type not in ("MatMul", "MatMulInteger") or match is None:
            continue
        weight = node.input[1]
        if node.op_type == "MatMulInteger":
            array = dequantize(weight.removesuffix("_quantized"))
        elif (found := value(weight)) is not None:
            array = found
        else:
            continue  # activation x activation (attention scores): no parameter
        # the exporter stores a Linear's weight transposed, as MatMul's (in, out) operand
        put(match["module"].replace("/", ".") + ".weight", array.T)
    named = [n for n in [*init, *alias] if n.startswith("model.")]
    for name in named:
        if name.endswith("_quantized"):
            stem = name.removesuffix("_quantized")
            put(stem.removeprefix("model."), dequantize(stem))
        elif not name.endswith(("_scale", "_zero_point")):
            found = value(name)
            if found is None:
                raise RecoveryError(f"{onnx_path}: {name} is computed, not stored")
            put(name.removeprefix("model."), found)
    return weights


def recover(artifact: str | Path, out: str | Path) -> Path:
    """Write a Hugging Face model folder (fp32 safetensors, config, tokenizer) to ``out``."""
    import torch
    from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoTokenizer

    artifact, out = Path(artifact), Path(out)
    onnx_path = artifact / ONNX_NAME
    if not onnx_path.is_file():
        raise RecoveryError(f"{artifact}: no {ONNX_NAME} to recover weights from")
    config = AutoConfig.from_pretrained(artifact)
    model = AutoModelForQuestionAnswering.from_config(config)
    weights = dequantized_weights(onnx_path)
    expected = dict(model.named_parameters())
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise RecoveryError(
            f"{onnx_path} does not match its config.json: missing {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
        )
    state: dict[str, Any] = {}
    for name, value in weights.items():
        if tuple(value.shape) != tuple(expected[name].shape):
            raise RecoveryError(
                f"{onnx_path}: {name} has shape {value.shape}, the config says "
                f"{tuple(expected[name].shape)}"
            )
        state[name] = torch.from_numpy(np.ascontiguousarray(value))
    model.load_state_dict(state, strict=False)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(artifact).save_pretrained(out)
    return out
