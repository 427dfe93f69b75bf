"""The export's graph rewrite: layer norms as plain operators compute what the ONNX op does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from qa.index.embed import EMBEDDER_DIR, ONNX_VARIANTS
from qa.train.embed_export import _plain_layer_norms


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_layer_norms_rewritten_as_plain_operators_give_the_same_outputs(tmp_path: Path):
    rng = np.random.default_rng(0)
    hidden = 16
    shape = [2, 5, hidden]
    graph = helper.make_graph(
        [
            helper.make_node(
                "LayerNormalization", ["x", "g1", "b1"], ["h"], axis=-1, epsilon=1e-12
            ),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("LayerNormalization", ["r", "g2", "b2"], ["y"], epsilon=1e-5),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        [
            numpy_helper.from_array(rng.normal(size=hidden).astype(np.float32), name)
            for name in ("g1", "b1", "g2", "b2")
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "ln.onnx"
    onnx.save(model, path)
    x = (3 * rng.normal(size=shape) + 1).astype(np.float32)
    before = _session(path).run(None, {"x": x})[0]
    _plain_layer_norms(path)
    ops = [n.op_type for n in onnx.load(path).graph.node]
    assert "LayerNormalization" not in ops and ops.count("ReduceMean") == 4
    after = _session(path).run(None, {"x": x})[0]
    assert np.allclose(before, after, atol=1e-5)


def test_the_shipped_encoder_has_no_layer_norm_kernels_left():
    graph = onnx.load(EMBEDDER_DIR / ONNX_VARIANTS["onnx-int8"]).graph
    ops = {n.op_type for n in graph.node}
    assert not ops & {"LayerNormalization", "SkipLayerNormalization", "QAttention"}
