"""One embedding interface: the offline models by default, any litellm model when configured.

The offline default (`CRM_AI_LOCAL_EMBEDDINGS=multilingual`) puts two models side by side in one
896-wide vector: all-MiniLM-L6-v2 (384, English, the better one there) and Google's multilingual
Universal Sentence Encoder (512, one space for 16 languages), each half scaled by 1/sqrt(2) so the
whole is unit length and a document's cosine is the mean of the two models' cosines. A query is
weighed by its language (`embed_query`): an English one leans on MiniLM, any other uses the USE
half alone, so a German question finds the English answer. `CRM_AI_LOCAL_EMBEDDINGS=english`
keeps MiniLM alone (384 wide, about 140 MB less memory while loaded).

Every stored vector records the model that made it (`EmbeddingProvider.name`), so changing the
model re-embeds in the background instead of mixing vector spaces.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Protocol

import numpy as np

from crm_app.ai import llm, use_multilingual
from crm_app.ai.minilm import DIMENSIONS, MODEL_NAME, get_encoder

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
    dimensions = DIMENSIONS

    def embed(self, texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        return local_encoder().encode(texts, batch_size=batch_size)


# An English query's weight on the MiniLM half (the USE half gets the rest); measured with
# bench/ai_eval.py: MiniLM ranks English paraphrases better, USE adds a little on close calls.
ENGLISH_QUERY_MINILM_WEIGHT = 0.95
HALF = float(np.sqrt(0.5))


class LocalMultilingual:
    """MiniLM and multilingual USE side by side: `[minilm, use] / sqrt(2)`, 896 wide."""

    name = f"local/{MODEL_NAME}+{use_multilingual.MODEL_NAME}"
    dimensions = DIMENSIONS + use_multilingual.DIMENSIONS
    # Vectors this provider's first half reproduces (searched that way while they are re-embedded)
    english_half = LocalMiniLM.name

    def embed(self, texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        english = local_encoder().encode(texts, batch_size=batch_size)
        multilingual = use_multilingual.get_encoder().encode(texts, batch_size=batch_size)
        return (HALF * np.hstack([english, multilingual])).astype(np.float32)

    def embed_query(self, texts: list[str]) -> np.ndarray:
        """Query vectors weighed by language: English leans on MiniLM, another language uses
        the USE half alone; a query the language model is unsure of sits in between."""
        from crm_app.ai import languages

        vectors = self.embed(texts)
        other = np.asarray(languages.other_language_probability(texts), dtype=np.float32)
        weights = (ENGLISH_QUERY_MINILM_WEIGHT * (1.0 - other))[:, None]
        vectors[:, :DIMENSIONS] *= weights
        vectors[:, DIMENSIONS:] *= 1.0 - weights
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def split_halves(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The MiniLM and USE halves of `LocalMultilingual` vectors, each unit length again; None
    for vectors of another width."""
    if vectors.ndim != 2 or vectors.shape[1] != LocalMultilingual.dimensions:
        return None
    halves = vectors[:, :DIMENSIONS], vectors[:, DIMENSIONS:]
    return (
        halves[0] / np.maximum(np.linalg.norm(halves[0], axis=1, keepdims=True), 1e-12),
        halves[1] / np.maximum(np.linalg.norm(halves[1], axis=1, keepdims=True), 1e-12),
    )


def embed_query(provider: EmbeddingProvider, texts: list[str]) -> np.ndarray:
    """Vectors for search queries: the provider's query-side weighting when it has one (the
    multilingual default), its document vectors otherwise."""
    weigh = getattr(provider, "embed_query", None)
    return weigh(texts) if weigh is not None else provider.embed(texts)


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


def local_provider(encoder: str | None = None) -> LocalMiniLM | LocalMultilingual:
    """The offline provider `encoder` names (`multilingual` or `english`), by default the one
    `CRM_AI_LOCAL_EMBEDDINGS` sets."""
    from crm_app.ai import runtime

    encoder = encoder or runtime.local_embeddings()
    if encoder not in runtime.LOCAL_EMBEDDINGS:
        raise ValueError(f"unknown offline encoder {encoder!r}: one of {runtime.LOCAL_EMBEDDINGS}")
    return LocalMultilingual() if encoder == "multilingual" else LocalMiniLM()


def get_provider(config: llm.LlmConfig | None = None) -> EmbeddingProvider:
    config = config if config is not None else llm.load_config()
    if config.embedding_model:
        return LiteLLMEmbeddings(config)
    return local_provider()
