"""all-MiniLM-L6-v2 on onnxruntime: the fast path of the offline sentence encoder.

No ONNX file ships with the weights (the pip package holds safetensors and the tokenizer), and
there is no torch at run time to export one, so the graph is written here with the `onnx`
helper API from the same weights, in memory, when the encoder is first used: the BERT encoder,
mean pooling over the attention mask and L2 normalisation, the exact computation of
`crm_app.ai.minilm` (the numpy reference, kept as the fallback) and of sentence-transformers.

Threads are bounded (`CRM_AI_MAX_THREADS`, see `crm_app.ai.runtime`) and do not spin while
idle, so an indexing run leaves the agents' web process its share of the CPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from crm_app.ai import runtime
from crm_app.ai.minilm import DIMENSIONS, MAX_TOKENS, BatchedEncoder, model_dir

OPSET = 18  # LayerNormalization (17) and reductions taking axes as an input (18)
log = logging.getLogger(__name__)


def build_model(path: Path | None = None):  # -> onnx.ModelProto (onnx is imported lazily)
    """The ONNX graph of the sentence encoder, weights embedded: inputs `input_ids` and
    `attention_mask` (int64, batch x tokens), output `embeddings` (float32, batch x 384, unit
    length). Standard operators only; onnxruntime's own optimizer fuses LayerNorm and GELU (a
    hand-fused graph on its contrib Attention kernels measured no faster here)."""
    from onnx import TensorProto, helper, numpy_helper
    from safetensors import safe_open

    path = path or model_dir()
    config = json.loads((path / "config.json").read_text())
    layers, heads = int(config["num_hidden_layers"]), int(config["num_attention_heads"])
    hidden, eps = int(config["hidden_size"]), float(config["layer_norm_eps"])
    head_dim = hidden // heads
    # Weights are read one at a time as the graph takes them, never all at once beside it.
    weights = safe_open(str(path / "model.safetensors"), framework="numpy")
    names = {k.removeprefix("bert."): k for k in weights.keys()}  # noqa: SIM118 (not a dict)

    class _Lazy:
        def pop(self, key: str) -> np.ndarray:
            return weights.get_tensor(names.pop(key)).astype(np.float32, copy=False)

    raw = _Lazy()

    nodes: list = []
    initializers: list = []

    def const(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=f"{name}_{op}", **attrs))
        return name

    def dense(x: str, key: str, out: str) -> str:
        weight = const(f"{key}.weight", raw.pop(f"{key}.weight").T)  # stored (out, in)
        bias = const(f"{key}.bias", raw.pop(f"{key}.bias"))
        return node("Add", [node("MatMul", [x, weight], f"{out}_mm"), bias], out)

    def layer_norm(x: str, key: str, out: str) -> str:
        return node(
            "LayerNormalization",
            [
                x,
                const(f"{key}.weight", raw.pop(f"{key}.weight")),
                const(f"{key}.bias", raw.pop(f"{key}.bias")),
            ],
            out,
            axis=-1,
            epsilon=eps,
        )

    # Embeddings: word + position (0..tokens-1) + token type 0, then LayerNorm.
    word = node(
        "Gather",
        [const("word_embeddings", raw.pop("embeddings.word_embeddings.weight")), "input_ids"],
        "word",
    )
    # The first `tokens` rows of the position table (Shape with start/end keeps it 1-D).
    seq = node("Shape", ["input_ids"], "seq_len", start=1, end=2)
    zero = const("zero", np.array([0]))
    pos = node(
        "Slice",
        [
            const("position_embeddings", raw.pop("embeddings.position_embeddings.weight")),
            zero,
            seq,
            zero,
        ],
        "pos",
    )
    x = node(
        "Add",
        [
            node("Add", [word, pos], "word_pos"),
            const("token_type_0", raw.pop("embeddings.token_type_embeddings.weight")[0]),
        ],
        "embedded",
    )
    x = layer_norm(x, "embeddings.LayerNorm", "h0")

    mask = node("Cast", ["attention_mask"], "mask", to=TensorProto.FLOAT)
    # Padding gets a large negative score before softmax: 0 for real tokens, -10000 for padding.
    attention_bias = node(
        "Unsqueeze",
        [
            node(
                "Mul",
                [
                    node("Sub", [const("f_one", np.array(1.0, np.float32)), mask], "inv_mask"),
                    const("neg", np.array(-10000.0, np.float32)),
                ],
                "mask_bias",
            ),
            const("axes_1_2", np.array([1, 2])),
        ],
        "attention_bias",
    )
    split_shape = const("split_shape", np.array([0, 0, heads, head_dim]))
    merge_shape = const("merge_shape", np.array([0, 0, hidden]))
    scale = const("scale", np.array(1.0 / np.sqrt(head_dim), np.float32))
    sqrt2 = const("sqrt2", np.array(np.sqrt(2.0), np.float32))
    half = const("half", np.array(0.5, np.float32))
    for i in range(layers):
        p = f"encoder.layer.{i}."

        def heads_of(t: str, perm: list[int], out: str) -> str:
            return node(
                "Transpose", [node("Reshape", [t, split_shape], f"{out}_split")], out, perm=perm
            )

        q = heads_of(dense(x, f"{p}attention.self.query", f"l{i}_q"), [0, 2, 1, 3], f"l{i}_qh")
        k = heads_of(dense(x, f"{p}attention.self.key", f"l{i}_k"), [0, 2, 3, 1], f"l{i}_kt")
        v = heads_of(dense(x, f"{p}attention.self.value", f"l{i}_v"), [0, 2, 1, 3], f"l{i}_vh")
        scores = node(
            "Add",
            [
                node("Mul", [node("MatMul", [q, k], f"l{i}_qk"), scale], f"l{i}_scaled"),
                attention_bias,
            ],
            f"l{i}_scores",
        )
        probs = node("Softmax", [scores], f"l{i}_probs", axis=-1)
        context = node(
            "Reshape",
            [
                node(
                    "Transpose",
                    [node("MatMul", [probs, v], f"l{i}_ctx")],
                    f"l{i}_ctx_t",
                    perm=[0, 2, 1, 3],
                ),
                merge_shape,
            ],
            f"l{i}_context",
        )
        attended = dense(context, f"{p}attention.output.dense", f"l{i}_attn")
        x = layer_norm(
            node("Add", [attended, x], f"l{i}_res1"), f"{p}attention.output.LayerNorm", f"l{i}_h1"
        )
        inner = dense(x, f"{p}intermediate.dense", f"l{i}_inner")
        gelu = node(
            "Mul",
            [
                node("Mul", [inner, half], f"l{i}_half"),
                node(
                    "Add",
                    [node("Erf", [node("Div", [inner, sqrt2], f"l{i}_div")], f"l{i}_erf"), "f_one"],
                    f"l{i}_erf1",
                ),
            ],
            f"l{i}_gelu",
        )
        out = dense(gelu, f"{p}output.dense", f"l{i}_out")
        x = layer_norm(node("Add", [out, x], f"l{i}_res2"), f"{p}output.LayerNorm", f"l{i}_h2")

    # Mean over real tokens, then unit length.
    mask3 = node("Unsqueeze", [mask, const("axis_2", np.array([2]))], "mask3")
    axis_1 = const("axis_1", np.array([1]))
    summed = node("ReduceSum", [node("Mul", [x, mask3], "masked"), axis_1], "summed", keepdims=0)
    counts = node(
        "Max",
        [
            node("ReduceSum", [mask, axis_1], "counts_raw", keepdims=1),
            const("min_count", np.array(1e-9, np.float32)),
        ],
        "counts",
    )
    pooled = node("Div", [summed, counts], "pooled")
    norm = node(
        "Max",
        [
            node("ReduceL2", [pooled, axis_1], "norm_raw", keepdims=1),
            const("min_norm", np.array(1e-12, np.float32)),
        ],
        "norm",
    )
    node("Div", [pooled, norm], "embeddings")

    graph = helper.make_graph(
        nodes,
        "all_minilm_l6_v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", DIMENSIONS])],
        initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="crm_app.ai.minilm_onnx",
    )
    model.ir_version = 8
    return model


# Bump when `build_model` writes a different graph: cached files of the old one are not used.
GRAPH_VERSION = 1


def model_file(path: Path | None = None) -> Path | None:
    """The encoder's ONNX file, built once per weights and graph version and kept under the
    data directory (None when it cannot be written there).

    The build (weights as protobuf, then serialized) holds several copies of the 87 MB of
    weights at once; done in a short-lived child process, it never raises the memory of the
    long-running processes that embed, and each of them starts in a fraction of the time."""
    from crm_app.settings import get_settings

    path = path or model_dir()
    stat = (path / "model.safetensors").stat()
    identity = f"{GRAPH_VERSION}|{OPSET}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    key = hashlib.sha256(identity.encode()).hexdigest()[:16]
    target = get_settings().data_dir / "cache" / f"all-minilm-l6-v2-{key}.onnx"
    if target.is_file():
        return target
    partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "crm_app.ai.minilm_onnx", str(path), str(partial)],
            check=True,
            capture_output=True,
            timeout=600,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, sys.path))},
        )
        partial.replace(target)  # atomic: a reader sees the whole file or none
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("could not cache the encoder graph under %s: %s", target.parent, error)
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        return None
    return target


class OnnxMiniLMEncoder(BatchedEncoder):
    """Same interface and vectors as `minilm.MiniLMEncoder`, several times faster."""

    def __init__(self, path: Path | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort

        # The tokenizer's own thread pool honours this when it first starts.
        os.environ.setdefault("RAYON_NUM_THREADS", str(threads or runtime.max_threads()))
        from tokenizers import Tokenizer

        path = path or model_dir()
        self.threads = threads or runtime.max_threads()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # No memory pattern: onnxruntime plans (and keeps) one arena block per input shape, and
        # every batch's token length is a new shape, so the plans pile up: about 100 MB more
        # after a few hundred batches, and no faster.
        options.enable_mem_pattern = False
        # Idle pool threads sleep instead of spinning: spinning burns the agents' CPU.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # shape-merge notes from the optimizer are not news
        cached = model_file(path)
        self.session = ort.InferenceSession(
            str(cached) if cached else build_model(path).SerializeToString(),
            options,
            providers=["CPUExecutionProvider"],
        )
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self._lock = threading.Lock()

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(["embeddings"], {"input_ids": ids, "attention_mask": mask})[0]


if __name__ == "__main__":  # `model_file`'s child: python -m crm_app.ai.minilm_onnx WEIGHTS OUT
    Path(sys.argv[2]).write_bytes(build_model(Path(sys.argv[1])).SerializeToString())
