"""How much of the machine the AI's background work may take.

- `CRM_AI_MAX_THREADS` (default: half the cores, at least 1): threads one embedding call may
  use (onnxruntime intra-op threads).
- `CRM_AI_NICE` (default 10): OS niceness of background AI work (0 = the web process's
  priority, 19 = lowest).
- `CRM_AI_INDEX_SECONDS` (default 45): how long one `ai_index` run keeps draining its backlog
  before it leaves the rest to the next run.
- `CRM_AI_LOCAL_EMBEDDINGS` (default `multilingual`): the offline embedding, `multilingual`
  (MiniLM beside Google's multilingual USE, 896 wide) or `english` (MiniLM alone, 384 wide,
  about 140 MB less while loaded). Changing it re-embeds the store in the background.

Indexing runs at low OS priority in its own thread, so when agents need the CPU the scheduler
gives it to the web process first; the thread cap bounds what it takes even on an idle machine.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def _int_env(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        log.warning("ignoring %s=%r: not a whole number", name, raw)
        return default
    return min(max(value, low), high)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def max_threads() -> int:
    cores = cpu_count()
    return _int_env("CRM_AI_MAX_THREADS", max(1, cores // 2), 1, cores)


def background_niceness() -> int:
    return _int_env("CRM_AI_NICE", 10, 0, 19)


def index_seconds() -> int:
    return _int_env("CRM_AI_INDEX_SECONDS", 45, 1, 3600)


LOCAL_EMBEDDINGS = ("multilingual", "english")


def local_embeddings() -> str:
    raw = os.environ.get("CRM_AI_LOCAL_EMBEDDINGS", "").strip().lower()
    if raw and raw not in LOCAL_EMBEDDINGS:
        log.warning("ignoring CRM_AI_LOCAL_EMBEDDINGS=%r: one of %s", raw, LOCAL_EMBEDDINGS)
    return raw if raw in LOCAL_EMBEDDINGS else LOCAL_EMBEDDINGS[0]


def lower_this_thread(niceness: int) -> None:
    """Raise this OS thread's niceness to at least `niceness` and, at niceness > 0, put it in
    the idle scheduling class, so any waking agent-facing task preempts it at once (Linux
    niceness and policy are per thread; threads it starts, such as a thread pool, inherit
    them). When this process leads its own session, its autogroup is lowered too: with
    autogroup scheduling, niceness only ranks threads inside one session."""
    if not hasattr(os, "setpriority") or niceness <= 0:
        return
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, niceness)
        if hasattr(os, "SCHED_IDLE"):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except OSError as failure:  # not permitted here: run at the priority we have
        log.warning("could not lower the priority of background AI work: %s", failure)
    _lower_own_autogroup(niceness)


def _lower_own_autogroup(niceness: int) -> None:
    autogroup = Path("/proc/self/autogroup")
    try:
        if os.getsid(0) != os.getpid() or not autogroup.exists():
            return
        current = int(autogroup.read_text().split("nice")[-1])
        if current < niceness:
            autogroup.write_text(str(niceness))
    except (OSError, ValueError) as failure:
        log.debug("autogroup left as it is: %s", failure)


def thread_policy() -> int:
    return os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else 0


def thread_niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def run_in_background(work: Callable[[], T], niceness: int | None = None) -> T:
    """Run `work` in a fresh low-priority thread and return its result (or raise its error).
    A fresh thread, because a thread's niceness can be raised but not lowered back without
    privileges, and the job executor's threads also run other jobs."""
    niceness = background_niceness() if niceness is None else niceness
    outcome: dict[str, object] = {}

    def target() -> None:
        lower_this_thread(niceness)
        try:
            outcome["result"] = work()
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="ai-background", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]


def keep_model_loaded() -> bool:
    """`CRM_AI_KEEP_MODEL=1`: keep the embedding model in memory while idle (no reload delay,
    about 300 MB more in a process that used it)."""
    return _int_env("CRM_AI_KEEP_MODEL", 0, 0, 1) == 1


def models_loaded() -> bool:
    """Whether this process holds an offline embedding model in memory."""
    from crm_app.ai import use_multilingual
    from crm_app.ai.embeddings import local_encoder
    from crm_app.ai.minilm import get_encoder

    caches = (local_encoder, get_encoder, use_multilingual.get_encoder)
    return any(cache.cache_info().currsize for cache in caches)


def release_models() -> None:
    """Drop the offline embedding models (about 300 MB with MiniLM's inference session, 140 MB
    more for USE) and give the freed heap back to the OS; the next use loads them again in a
    second or two."""
    import contextlib
    import ctypes
    import gc

    from crm_app.ai import use_multilingual
    from crm_app.ai.embeddings import local_encoder
    from crm_app.ai.minilm import get_encoder

    local_encoder.cache_clear()
    get_encoder.cache_clear()
    use_multilingual.get_encoder.cache_clear()
    gc.collect()
    # Not glibc: the allocator keeps what it keeps.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
