"""The offline encoder's fast path: same vectors as the numpy reference, bounded threads, and
background indexing at low OS priority."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from crm_app.ai import runtime
from crm_app.ai.minilm import DIMENSIONS, get_encoder

TEXTS = [
    "I would like to withdraw 411,000 EUR from my investment account to my usual bank account.",
    "Is the review complete? I need to place a trade this week.",
    "Dear Olivia,\nThe annual tax statement is now available in the documents section of the "
    "portal. Let me know if your accountant needs anything else.\nBest,\nJames",
    "Bonjour, je n'arrive plus à me connecter au portail depuis que j'ai changé de téléphone.",
    "",
    "ok",
    " ".join(["The fee on my latest statement seems higher than last quarter."] * 60),  # > 256 tok
]


@pytest.fixture(scope="module")
def onnx_encoder():
    from crm_app.ai.minilm_onnx import OnnxMiniLMEncoder

    return OnnxMiniLMEncoder(threads=1)


def test_onnx_encoder_gives_the_reference_vectors(onnx_encoder) -> None:
    fast = onnx_encoder.encode(TEXTS)
    reference = get_encoder().encode(TEXTS)
    assert fast.shape == (len(TEXTS), DIMENSIONS) and fast.dtype == np.float32
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert float((fast * reference).sum(axis=1).min()) > 0.999


def test_batching_and_padding_do_not_change_a_text_vector(onnx_encoder) -> None:
    alone = np.vstack([onnx_encoder.encode([t]) for t in TEXTS])
    together = onnx_encoder.encode(TEXTS, batch_size=3)
    assert float((alone * together).sum(axis=1).min()) > 0.9999


def test_long_texts_go_in_small_batches_and_short_ones_in_full_batches(
    onnx_encoder, monkeypatch
) -> None:
    """A batch's padded tokens stay within the budget (the memory of an archive import is
    bounded by it), while short texts still go 32 at a time; no vector changes."""
    from crm_app.ai.minilm import TOKENS_PER_BATCH

    long_texts = [
        f"Transfer {i}: " + " ".join(["custody settlement fee statement"] * 80) for i in range(20)
    ]
    short_texts = [f"Where is my card number {i}?" for i in range(40)]
    texts = long_texts + short_texts
    shapes: list[tuple[int, int]] = []
    forward = onnx_encoder._forward

    def recording(ids, mask):
        shapes.append(ids.shape)
        return forward(ids, mask)

    monkeypatch.setattr(onnx_encoder, "_forward", recording)
    vectors = onnx_encoder.encode(texts, batch_size=32)
    assert all(rows * width <= TOKENS_PER_BATCH for rows, width in shapes)
    assert all(rows <= 8 for rows, width in shapes if width == 256)
    assert max(rows for rows, _ in shapes) == 32  # the short ones
    assert max(width for _, width in shapes) == 256  # the long ones, truncated, all embedded
    monkeypatch.setattr(onnx_encoder, "_forward", forward)
    alone = np.vstack([onnx_encoder.encode([t]) for t in texts[:3] + texts[-3:]])
    assert float((alone * vectors[[0, 1, 2, -3, -2, -1]]).sum(axis=1).min()) > 0.9999


def test_builtin_provider_runs_on_onnxruntime_and_keeps_its_name() -> None:
    from crm_app.ai.embeddings import LocalMiniLM, local_encoder
    from crm_app.ai.minilm_onnx import OnnxMiniLMEncoder

    assert isinstance(local_encoder(), OnnxMiniLMEncoder)
    # Stored vectors carry this name: unchanged, so nothing is re-embedded by the switch.
    assert LocalMiniLM.name == "local/all-MiniLM-L6-v2"


def test_embedding_threads_are_capped_by_setting(monkeypatch) -> None:
    from crm_app.ai.minilm_onnx import OnnxMiniLMEncoder

    monkeypatch.setenv("CRM_AI_MAX_THREADS", "1")
    assert runtime.max_threads() == 1
    assert OnnxMiniLMEncoder().session.get_session_options().intra_op_num_threads == 1
    monkeypatch.setenv("CRM_AI_MAX_THREADS", "999")
    assert runtime.max_threads() == runtime.cpu_count()
    monkeypatch.setenv("CRM_AI_MAX_THREADS", "lots")
    assert runtime.max_threads() == max(1, runtime.cpu_count() // 2)
    monkeypatch.delenv("CRM_AI_MAX_THREADS")
    assert 1 <= runtime.max_threads() <= max(1, runtime.cpu_count() // 2)


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="no OS priorities here")
def test_background_work_runs_at_low_priority_and_the_caller_keeps_its_own() -> None:
    before = runtime.thread_niceness()
    policy = runtime.thread_policy()
    seen = runtime.run_in_background(
        lambda: (
            runtime.thread_niceness(),
            threading.current_thread() is threading.main_thread(),
            runtime.thread_policy(),
        ),
        niceness=min(before + 7, 19),
    )
    assert seen[:2] == (min(before + 7, 19), False)
    assert seen[2] == getattr(os, "SCHED_IDLE", seen[2])  # preempted by any agent-facing task
    assert (runtime.thread_niceness(), runtime.thread_policy()) == (before, policy)


def test_background_errors_reach_the_caller() -> None:
    def fails() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        runtime.run_in_background(fails)


def test_indexing_job_drains_its_backlog_at_low_priority(db: str, monkeypatch) -> None:
    import jobs.ai_index as job
    from crm_app.ai import retrieval, sentiment

    niceness: list[int] = []
    batches = iter([200, 200, 57, 0])
    monkeypatch.setattr(
        retrieval,
        "index_resolved_tickets",
        lambda limit, provider: (niceness.append(runtime.thread_niceness()), next(batches))[1],
    )
    monkeypatch.setattr(retrieval, "reembed_stale", lambda limit, provider: 0)
    monkeypatch.setattr(sentiment, "score_new_client_messages", lambda limit: 0)
    monkeypatch.setenv("CRM_AI_NICE", "12")
    result = job.run()
    # One run keeps going while there is work, instead of 200 tickets a minute.
    assert result["tickets_indexed"] == 457
    assert niceness and all(n >= 12 for n in niceness)


def test_the_built_graph_is_a_valid_onnx_model() -> None:
    import onnx

    from crm_app.ai.minilm_onnx import build_model

    onnx.checker.check_model(build_model(), full_check=True)


def test_the_graph_is_built_once_outside_the_process_and_then_loaded_from_the_data_dir(
    tmp_path, monkeypatch
) -> None:
    """A process that embeds never holds the graph build (several copies of the weights): a
    child writes the file once, every later encoder loads it, with the same vectors."""
    from crm_app.ai import minilm_onnx
    from crm_app.settings import get_settings

    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        built_here: list[bool] = []
        real_build = minilm_onnx.build_model
        monkeypatch.setattr(
            minilm_onnx, "build_model", lambda *a: built_here.append(True) or real_build(*a)
        )
        first = minilm_onnx.OnnxMiniLMEncoder(threads=1)
        cached = sorted((tmp_path / "cache").glob("all-minilm-l6-v2-*.onnx"))
        assert len(cached) == 1 and not list((tmp_path / "cache").glob("*.part"))
        stamp = cached[0].stat().st_mtime_ns
        second = minilm_onnx.OnnxMiniLMEncoder(threads=1)
        assert cached[0].stat().st_mtime_ns == stamp  # loaded, not rebuilt
        assert built_here == []  # neither encoder built the graph in this process
        a, b = first.encode(TEXTS), second.encode(TEXTS)
        assert float((a * get_encoder().encode(TEXTS)).sum(axis=1).min()) > 0.999
        assert np.array_equal(a, b)
    finally:
        get_settings.cache_clear()


def test_an_unwritable_data_dir_falls_back_to_building_in_process(tmp_path, monkeypatch) -> None:
    from crm_app.ai import minilm_onnx
    from crm_app.settings import get_settings

    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("CRM_DATA_DIR", str(blocked))
    get_settings.cache_clear()
    try:
        assert minilm_onnx.model_file() is None
        encoder = minilm_onnx.OnnxMiniLMEncoder(threads=1)
        assert encoder.encode(["ok"]).shape == (1, DIMENSIONS)
    finally:
        get_settings.cache_clear()
