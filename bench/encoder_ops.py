"""Where the int8 encoder's time goes when it indexes: ``python bench/encoder_ops.py``.

Indexing is almost all encoder time (bench/index.py), so this takes the shipped ONNX encoder apart
on the first SQuAD 2.0 dev paragraphs, one thread, as the index build runs it:

- ms per text run alone, one thread (how the build runs every text), against padded batches of
  similar lengths, to price batching; and wall ms per text with a thread per core sharing the
  session, each text alone, as the build runs them;
- each operator type's share of the run time (onnxruntime's profiler);
- onnxruntime's LayerNormalization kernels against the same arithmetic as plain operators, on
  one layer's activations.

``--models`` times other exports of the same encoder beside the shipped one (vectors are compared
with the shipped one's: an index must be queried with the encoder that built it).
Writes bench/results/encoder_ops.json.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from common import SHARED_DATA, shared_data, table, write_result

from qa.index.embed import EMBEDDER_DIR, ONNX_VARIANTS
from qa.settings import default_embed_model


def session(path: Path, profile: str | None = None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    if profile:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def feed(rows: list[list[int]]) -> dict[str, np.ndarray]:
    """Right-padded ids and the mask of real tokens."""
    width = max(len(r) for r in rows)
    ids = np.zeros((len(rows), width), np.int64)
    mask = np.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, : len(r)], mask[i, : len(r)] = r, 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def time_model(path: Path, texts: list[list[int]], batch: int) -> dict[str, Any]:
    s = session(path)
    for r in texts[:10]:
        s.run(None, feed([r]))
    alone, vectors = [], []
    for r in texts:
        t = time.perf_counter()
        vectors.append(s.run(None, feed([r]))[0][0])
        alone.append(time.perf_counter() - t)
    # as the index build runs it: one session, a thread per core, each text alone
    threads = max(2, os.cpu_count() or 1)
    with ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        list(pool.map(lambda r: s.run(None, feed([r])), texts))
        side_by_side = (time.perf_counter() - started) / len(texts)
    by_length = sorted(texts, key=len)
    started = time.perf_counter()
    for i in range(0, len(by_length), batch):
        s.run(None, feed(by_length[i : i + batch]))
    batched = (time.perf_counter() - started) / len(texts)
    return {"ms_per_text_alone": round(statistics.mean(alone) * 1000, 2),
            "ms_per_text_alone_p50": round(statistics.median(alone) * 1000, 2),
            f"ms_per_text_batches_of_{batch}": round(batched * 1000, 2),
            f"wall_ms_per_text_alone_on_{threads}_threads": round(side_by_side * 1000, 2),
            "vectors": np.array(vectors)}


def op_shares(path: Path, texts: list[list[int]]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        s = session(path, profile=str(Path(tmp) / "ops"))
        for r in texts:
            s.run(None, feed([r]))
        events = json.loads(Path(s.end_profiling()).read_text())
    spent: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e.get("args", {}).get("op_name"):
            spent[e["args"]["op_name"]] += e["dur"]
    total = sum(spent.values())
    return {op: round(100 * us / total, 1) for op, us in spent.most_common() if us / total > 0.005}


def layer_norm_kernels(tokens: int, hidden: int = 384) -> dict[str, float]:
    """µs per call on one layer's activations [1, tokens, hidden]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    gamma = numpy_helper.from_array(np.ones(hidden, np.float32), "gamma")
    beta = numpy_helper.from_array(np.zeros(hidden, np.float32), "beta")
    eps = numpy_helper.from_array(np.array(1e-12, np.float32), "eps")
    shape = [1, tokens, hidden]
    graphs = {
        "SkipLayerNormalization": [helper.make_node(
            "SkipLayerNormalization", ["x", "skip", "gamma", "beta"], ["y"],
            domain="com.microsoft", epsilon=1e-12)],
        "Add + LayerNormalization": [
            helper.make_node("Add", ["x", "skip"], ["s"]),
            helper.make_node("LayerNormalization", ["s", "gamma", "beta"], ["y"], axis=-1,
                             epsilon=1e-12)],
        "the same arithmetic as plain operators": [
            helper.make_node("Add", ["x", "skip"], ["s"]),
            helper.make_node("ReduceMean", ["s"], ["m"], axes=[-1]),
            helper.make_node("Sub", ["s", "m"], ["d"]),
            helper.make_node("Mul", ["d", "d"], ["d2"]),
            helper.make_node("ReduceMean", ["d2"], ["v"], axes=[-1]),
            helper.make_node("Add", ["v", "eps"], ["ve"]),
            helper.make_node("Sqrt", ["ve"], ["sd"]),
            helper.make_node("Div", ["d", "sd"], ["n"]),
            helper.make_node("Mul", ["n", "gamma"], ["ng"]),
            helper.make_node("Add", ["ng", "beta"], ["y"])],
        "Add alone (a memory-bound reference)": [helper.make_node("Add", ["x", "skip"], ["y"])],
    }
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, nodes in graphs.items():
            graph = helper.make_graph(
                nodes, "g",
                [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in ("x", "skip")],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
                [gamma, beta, eps])
            opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
            model = helper.make_model(graph, opset_imports=opsets)
            model.ir_version = 8
            path = Path(tmp) / "g.onnx"
            onnx.save(model, path)
            s = session(path)
            inputs = {"x": x, "skip": x.copy()}
            for _ in range(20):
                s.run(None, inputs)
            samples = []
            for _ in range(300):
                t = time.perf_counter()
                s.run(None, inputs)
                samples.append(time.perf_counter() - t)
            out[name] = round(statistics.median(samples) * 1e6, 1)
    return out


def main() -> int:
    from tokenizers import Tokenizer

    from qa.eval.squad import read_squad

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=int, default=200, help="SQuAD paragraphs embedded")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--models", type=Path, nargs="*", default=[],
                    help="other ONNX exports of the encoder to time beside the shipped one")
    args = ap.parse_args()

    tokenizer = Tokenizer.from_file(str(Path(default_embed_model()) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(256)
    docs = read_squad(shared_data(SHARED_DATA / "squad2-dev-public.json")).documents
    texts = [e.ids for e in tokenizer.encode_batch([d.text for d in docs[: args.texts]])]
    shipped = EMBEDDER_DIR / ONNX_VARIANTS["onnx-int8"]
    rows, reference = [], None
    for path in [shipped, *args.models]:
        timed = time_model(path, texts, args.batch)
        vectors = timed.pop("vectors")
        if reference is None:
            reference = vectors
        cosine = (vectors * reference).sum(axis=1)
        rows.append({"model": str(path.relative_to(path.parents[1])) if path == shipped
                     else str(path), **timed,
                     "min_cosine_to_shipped": round(float(cosine.min()), 5),
                     "operator_share_pct": op_shares(path, texts)})
        print(json.dumps(rows[-1]), flush=True)
    mean_tokens = round(statistics.mean(len(t) for t in texts), 1)
    kernels = layer_norm_kernels(int(mean_tokens))
    print(table([f"layer norm on [1, {int(mean_tokens)}, 384]", "µs per call"],
                [[k, v] for k, v in kernels.items()]))
    path = write_result("encoder_ops", {"texts": len(texts), "mean_tokens": mean_tokens,
                                        "threads": 1, "models": rows,
                                        "layer_norm_us": kernels})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
