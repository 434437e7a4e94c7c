"""One embedding interface: the offline MiniLM by default, any litellm model when configured.

Every stored vector records the model that made it (`EmbeddingProvider.name`), so changing the
model re-embeds in the background instead of mixing vector spaces.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Protocol

import numpy as np

from crm_app.ai import llm
from crm_app.ai.minilm import MODEL_NAME, get_encoder

log = logging.getLogger(__name__)

BATCH_SIZE = 32


class EmbeddingProvider(Protocol):
    name: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


class SentenceEncoder(Protocol):
    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...


@lru_cache(maxsize=1)
def local_encoder() -> SentenceEncoder:
    """The offline encoder on onnxruntime; the numpy reference when onnxruntime is missing.
    Both give the same vectors (cosine > 0.999), so stored vectors stay valid either way."""
    try:
        from crm_app.ai.minilm_onnx import OnnxMiniLMEncoder

        return OnnxMiniLMEncoder()
    except ImportError as missing:
        log.warning(
            "onnxruntime unavailable (%s): embedding on numpy, several times slower", missing
        )
        return get_encoder()


class LocalMiniLM:
    name = f"local/{MODEL_NAME}"

    def embed(self, texts: list[str]) -> np.ndarray:
        return local_encoder().encode(texts, batch_size=BATCH_SIZE)


class LiteLLMEmbeddings:
    def __init__(self, config: llm.LlmConfig) -> None:
        self.config = config
        self.name = f"litellm/{config.embedding_model}"

    def embed(self, texts: list[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(texts), BATCH_SIZE):
            rows.extend(llm.embed(self.config, texts[start : start + BATCH_SIZE]))
        vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


def get_provider(config: llm.LlmConfig | None = None) -> EmbeddingProvider:
    config = config if config is not None else llm.load_config()
    if config.embedding_model:
        return LiteLLMEmbeddings(config)
    return LocalMiniLM()
