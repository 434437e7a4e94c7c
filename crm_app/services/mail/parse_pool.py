"""Parsing fetched mail in worker processes, so the poller writes one batch while the next is
parsed (parsing is pure Python: threads would share one core).

`submit` hands a batch to the pool and returns at once; `ParsedBatch.result()` waits for it.
Small batches are parsed in the caller (a round trip to a worker costs more than a few mails),
and so is everything when the pool cannot start or a worker dies: the parse is the same
function either way (`inbound.parse_batch`, the one MIME path through `ingest`).

Workers come from a fork server that imported the parser once, never from a fork of the
poller (whose database connections and threads a child must not inherit). Each task carries
the poller's `CRM_*` environment, so a worker stores attachments where the poller's settings
say. `CRM_MAIL_PARSE_WORKERS` sets the pool size (default: up to 2, one per core; 0 parses in
the poller).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from crm_app.services.mail.inbound import FetchedMail, ParsedMail, parse_batch
from crm_app.settings import get_settings

log = logging.getLogger(__name__)

MIN_POOL_MESSAGES = 20  # smaller batches are parsed in the caller
_ENV_PREFIX = "CRM_"

_pool: ProcessPoolExecutor | None = None
_pool_failed = False
_ready = threading.Event()  # the workers answered: until then batches parse in the caller
_lock = threading.Lock()


def workers() -> int:
    """How many parse processes (CRM_MAIL_PARSE_WORKERS; default one per core, at most 2)."""
    configured = os.environ.get("CRM_MAIL_PARSE_WORKERS", "").strip()
    if configured.isdigit():
        return int(configured)
    return max(0, min(2, os.cpu_count() or 1))


class ParsedBatch:
    """A batch being parsed (in a worker) or already parsed (here)."""

    def __init__(
        self,
        args: tuple[str, str, list[FetchedMail]],
        future: Future[list[ParsedMail]] | None = None,
        parsed: list[ParsedMail] | None = None,
    ) -> None:
        self._args = args
        self._future = future
        self._parsed = parsed

    def result(self) -> list[ParsedMail]:
        if self._parsed is None:
            try:
                assert self._future is not None
                self._parsed = self._future.result()
            except Exception as error:  # a dead worker, or a batch that does not pickle
                _broken(error)
                self._parsed = parse_batch(*self._args)  # the same parse, here
        return self._parsed


def submit(mailbox_name: str, folder: str, mails: Sequence[FetchedMail]) -> ParsedBatch:
    """Start parsing `mails`; small batches (and everything without a pool) parse right here."""
    args = (mailbox_name, folder, list(mails))
    pool = _get_pool() if len(mails) >= MIN_POOL_MESSAGES and _ready.is_set() else None
    if pool is not None:
        env = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIX)}
        try:
            return ParsedBatch(args, future=pool.submit(_parse_in_worker, env, *args))
        except (BrokenProcessPool, RuntimeError, OSError) as error:
            _broken(error)
    return ParsedBatch(args, parsed=parse_batch(*args))


def warm_up() -> None:
    """Start the workers in the background (they import the parser once); batches submitted
    before they are up are parsed in the caller, so nothing waits for them."""
    if workers() > 0 and _pool is None and not _pool_failed:
        threading.Thread(target=_start_workers, name="mail-parse-warm-up", daemon=True).start()


def _start_workers() -> None:
    pool = _get_pool()
    if pool is not None:
        try:
            for future in [pool.submit(os.getpid) for _ in range(workers())]:
                future.result()
        except Exception as error:
            _broken(error)
        else:
            _ready.set()


def _get_pool() -> ProcessPoolExecutor | None:
    global _pool
    if _pool is not None or _pool_failed:
        return _pool
    count = workers()
    if count <= 0:
        return None
    with _lock:
        if _pool is None and not _pool_failed:
            try:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload([__name__])
                _pool = ProcessPoolExecutor(max_workers=count, mp_context=context)
            except (OSError, ValueError) as error:
                _broken(error)
    return _pool


def _broken(error: BaseException) -> None:
    """The pool is unusable: parse in the poller from now on (this process)."""
    global _pool, _pool_failed
    log.warning(
        "mail parse workers unavailable; parsing in the poller", extra={"error": repr(error)}
    )
    with _lock:
        _pool_failed = True
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def _parse_in_worker(
    env: dict[str, str], mailbox_name: str, folder: str, mails: list[FetchedMail]
) -> list[ParsedMail]:
    """In a worker: take the poller's settings, then parse."""
    current = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIX)}
    if current != env:
        for key in current.keys() - env.keys():
            del os.environ[key]
        os.environ.update(env)
        get_settings.cache_clear()
    return parse_batch(mailbox_name, folder, mails)
