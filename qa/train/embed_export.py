"""Build the ONNX encoder shipped in ``qa/models/embedder`` from the packaged all-MiniLM-L6-v2.

    python -m qa.train.embed_export                 # int8, the shipped variant
    python -m qa.train.embed_export --variant onnx  # fp32, for comparisons

The graph takes ``input_ids``, ``attention_mask`` and ``token_type_ids`` and returns the
sentence-transformers embedding itself (mean pooling over real tokens, then L2 normalization), so
run time needs onnxruntime and the tokenizer, not torch. int8 is dynamic quantisation with one
scale per output channel, as for the reader (qa/train/export.py). The graph is not fused into
onnxruntime's BERT kernels, and layer normalization is written out as plain operators: onnxruntime's
layer-norm kernels take several times as long as the same arithmetic in plain operators, and an
index build, two texts at a time on two cores, ran markedly faster on this graph than on the fused
one (``bench/encoder_ops.py``, ``bench/index.py``).
``export.json`` records the source model's fingerprint: ``qa.index.embed`` uses the artifact only
for that model. A build tool, never imported at run time (it needs torch and onnx).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from qa.index.embed import EMBEDDER_DIR, EXPORT_MANIFEST, ONNX_VARIANTS, model_fingerprint


def export(
    model_dir: str | Path,
    out: str | Path = EMBEDDER_DIR,
    *,
    variant: str = "onnx-int8",
) -> Path:
    import onnxruntime
    import torch
    from transformers import AutoModel

    if variant not in ONNX_VARIANTS:
        raise ValueError(f"variant must be one of {sorted(ONNX_VARIANTS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = AutoModel.from_pretrained(
        str(model_dir), dtype=torch.float32, attn_implementation="eager"
    ).eval()
    target = out / ONNX_VARIANTS[variant]
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        _export_onnx(_pooled(model), fp32)
        _plain_layer_norms(fp32)
        if variant == "onnx":
            shutil.copyfile(fp32, target)
        else:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True)
    manifest_path = out / EXPORT_MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[variant] = {
        "file": target.name,
        "source_fingerprint": model_fingerprint(str(model_dir)),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return target


def _pooled(model: Any) -> Any:
    """sentence-transformers' Pooling(mean) + Normalize on top of the transformer."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    return Pooled().eval()


def _plain_layer_norms(path: Path) -> None:
    """Rewrite every LayerNormalization as mean, variance and scale in plain operators (which
    onnxruntime's optimizer leaves as they are: it fuses the ``Pow`` form, not ``Mul``)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    nodes = []
    for n, node in enumerate(graph.node):
        if node.op_type != "LayerNormalization":
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("axis", -1) != -1 or len(node.output) > 1:
            raise ValueError(f"{node.name}: only last-axis layer norms with one output")
        x, scale, bias = node.input
        p = f"plain_ln{n}_"
        graph.initializer.append(
            numpy_helper.from_array(np.array(attrs.get("epsilon", 1e-5), np.float32), p + "eps")
        )
        nodes += [
            helper.make_node("ReduceMean", [x], [p + "mean"], axes=[-1]),
            helper.make_node("Sub", [x, p + "mean"], [p + "dev"]),
            helper.make_node("Mul", [p + "dev", p + "dev"], [p + "sq"]),
            helper.make_node("ReduceMean", [p + "sq"], [p + "var"], axes=[-1]),
            helper.make_node("Add", [p + "var", p + "eps"], [p + "var_eps"]),
            helper.make_node("Sqrt", [p + "var_eps"], [p + "std"]),
            helper.make_node("Div", [p + "dev", p + "std"], [p + "norm"]),
            helper.make_node("Mul", [p + "norm", scale], [p + "scaled"]),
            helper.make_node("Add", [p + "scaled", bias], [node.output[0]]),
        ]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _export_onnx(module: Any, path: Path) -> None:
    import torch

    ids = torch.ones((2, 16), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["embedding"] = {0: "batch"}
    with torch.inference_mode():
        torch.onnx.export(
            module,
            (ids, ids, torch.zeros_like(ids)),
            str(path),
            input_names=names,
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def main(argv: list[str] | None = None) -> int:
    from qa.settings import default_embed_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=default_embed_model(), help="source model directory")
    ap.add_argument("--out", type=Path, default=EMBEDDER_DIR)
    ap.add_argument("--variant", choices=sorted(ONNX_VARIANTS), default="onnx-int8")
    args = ap.parse_args(argv)
    print(export(args.model, args.out, variant=args.variant))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
