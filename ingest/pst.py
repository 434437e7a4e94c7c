"""PST/OST archives -> `Message` / `NonMailItem` / `ItemError`, read in child processes.

`PstReader` keeps a small pool of spawned children that run `pst_child.serve`. Each child
reads one file at a time with pypff *and normalizes its items itself*
(`pst_normalize.normalize_raw_item`), then streams finished records back in batches. With
several files, up to `workers` children (default: one per CPU) work on different files at
once, while this process yields the records strictly in file order: the children that are
ahead wait on their bounded queues (back-pressure through the pipe), so memory stays flat.

pypff is C, and so are the HTML sanitizer and friends: when a child dies, the file it was
reading gets an `ItemError`, the child is replaced, and files it had queued go to a fresh one.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from . import pst_child
from .attachments import AttachmentSink, DiscardSink
from .errors import IngestError
from .model import IngestRecord, ItemError, Provenance, SourceKind
from .pst_normalize import (  # re-exported: the normalizer lived here before
    codepage_charset,
    item_kind,
    message_from_raw,
    normalize_raw_item,
    rtf_text,
)

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "PstReader",
    "codepage_charset",
    "item_kind",
    "iter_pst",
    "message_from_raw",
    "normalize_raw_item",
    "require_pst",
    "rtf_text",
]

DEFAULT_IDLE_TIMEOUT = 300.0  # seconds without a word from a busy child before it counts as hung
# Replies read ahead per child: batches of at most ~512 KB of bodies each, and "done" notes.
_PREFETCH_BATCHES = 32
# Files handed to one child before the parent has drained them: a child that is ahead of the
# file being yielded keeps working on its next files instead of idling (in-order output).
_FILES_AHEAD = 4
_POLL_SLICE = 0.5


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


class _Worker:
    """One child process, its pipe, and a thread reading its replies into a bounded queue."""

    def __init__(self, target: Callable[[Connection], None], idle_timeout: float) -> None:
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe(duplex=True)
        self.process = context.Process(target=target, args=(child_end,), daemon=True)
        self.process.start()
        child_end.close()
        self.conn = parent_end
        self.inbox: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=_PREFETCH_BATCHES)
        self.jobs: deque[_Job] = deque()  # files sent to this child and not yet drained here
        self._idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._outstanding = 0  # files sent and not yet answered with done/fatal
        self._last_word = time.monotonic()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._pump, name="pst-reader", daemon=True)
        self._reader.start()

    def send_file(self, job: _Job, sink: AttachmentSink, now: datetime) -> None:
        with self._lock:
            self._outstanding += 1
            self._last_word = time.monotonic()
        self.jobs.append(job)
        job.worker = self
        with contextlib.suppress(OSError):  # a dead child: its pump reports the EOF
            self.conn.send(("file", job.source, sink, now))

    def _pump(self) -> None:
        """Read replies ahead into the bounded inbox; report EOF (a crash) and silence (hung).

        Silence only counts while the child owes an answer, so an idle child never looks hung.
        """
        conn, inbox, stop = self.conn, self.inbox, self._stop
        while not stop.is_set():
            try:
                if conn.poll(_POLL_SLICE):
                    reply: tuple[Any, ...] = conn.recv()
                    with self._lock:
                        self._last_word = time.monotonic()
                        if reply[0] in ("done", "fatal"):
                            self._outstanding -= 1
                else:
                    with self._lock:
                        silent = time.monotonic() - self._last_word
                        hung = self._outstanding > 0 and silent > self._idle_timeout
                    if not hung:
                        continue
                    reply = ("hung",)
            except (EOFError, OSError):
                reply = ("eof",)
            while not stop.is_set():
                try:
                    inbox.put(reply, timeout=_POLL_SLICE)
                    break
                except queue.Full:
                    continue
            with self._lock:
                self._last_word = time.monotonic()  # time blocked on a full inbox is not silence
            if reply[0] in ("eof", "hung"):
                return

    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self) -> None:
        """Ask the child to finish (it exits after the file it is on)."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(("stop",))

    def kill(self) -> int | None:
        """Kill the child, then close the pipe once its reader thread has let go of it.

        Closing first would free the descriptor number while the thread may still be reading
        it; the next worker's pipe can get that number, and the old thread would then steal
        part of the new child's stream. With the child dead the thread meets EOF at once.
        """
        self._stop.set()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=10)
        self._reader.join(timeout=10)
        if not self._reader.is_alive():
            self.conn.close()
        for job in self.jobs:
            job.worker = None
        self.jobs.clear()
        return self.process.exitcode


@dataclass(eq=False)
class _Job:
    """One file of an `iter_files` call, in input order."""

    source: str
    error: ItemError | None = None  # known before any child sees the file
    worker: _Worker | None = None
    received: int = 0


class PstReader:
    """Reads PST/OST files through reusable child processes. Use as a context manager.

    `iter_files` spreads the files over up to `workers` children (default: `os.cpu_count()`),
    each reading and normalizing whole files, and yields their records in file order.
    """

    def __init__(
        self,
        *,
        sink: AttachmentSink | None = None,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        child_target: Callable[[Connection], None] = pst_child.serve,
        workers: int | None = None,
    ) -> None:
        self.sink = sink or DiscardSink()
        self.idle_timeout = idle_timeout
        self.workers = max(1, workers if workers is not None else _default_workers())
        self._child_target = child_target
        self._pool: list[_Worker] = []

    def __enter__(self) -> PstReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the children (politely, then by force)."""
        pool, self._pool = self._pool, []
        for worker in pool:
            worker.stop()
        deadline = time.monotonic() + 5
        for worker in pool:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
        for worker in pool:
            worker.kill()

    def _retire(self, worker: _Worker) -> int | None:
        with contextlib.suppress(ValueError):
            self._pool.remove(worker)
        return worker.kill()

    def _free_worker(self, force: bool = False) -> _Worker | None:
        """A child that can take one more file: an idle one, a new one, or a short queue."""
        for worker in [w for w in self._pool if not w.jobs and not w.alive()]:
            self._retire(worker)  # died while idle: do not blame the next file on it
        idle = [w for w in self._pool if not w.jobs]
        if idle:
            return idle[0]
        if len(self._pool) < self.workers or force:
            worker = _Worker(self._child_target, self.idle_timeout)
            self._pool.append(worker)
            return worker
        open_queues = [w for w in self._pool if len(w.jobs) < _FILES_AHEAD]
        return min(open_queues, key=lambda w: len(w.jobs)) if open_queues else None

    def iter_file(
        self, path: str | os.PathLike[str], *, now: datetime | None = None
    ) -> Iterator[IngestRecord]:
        """Every item of one PST/OST file; problems come back as `ItemError` records."""
        for _, record in self.iter_files([path], now=now):
            yield record

    def iter_files(
        self, paths: Iterable[str | os.PathLike[str]], *, now: datetime | None = None
    ) -> Iterator[tuple[str, IngestRecord]]:
        """(file, record) for every item of every file, in file order, items in walk order."""
        now = now or datetime.now(UTC)
        todo = deque(os.fspath(path) for path in paths)
        pending: deque[_Job] = deque()  # files handed out (or failed early), in input order
        window = self.workers * _FILES_AHEAD + 1

        def hand_out() -> None:
            for job in pending:  # files whose child was replaced go first, in order
                if job.worker is None and job.error is None:
                    worker = self._free_worker(force=job is pending[0])
                    if worker is None:
                        return
                    worker.send_file(job, self.sink, now)
            while todo and len(pending) < window:
                problem = _signature_problem(todo[0])
                if problem:
                    error = ItemError(problem, _file_level(todo[0]), fatal_for_file=True)
                    pending.append(_Job(todo.popleft(), error=error))
                    continue
                worker = self._free_worker()
                if worker is None:
                    return
                job = _Job(todo.popleft())
                pending.append(job)
                worker.send_file(job, self.sink, now)

        try:
            while todo or pending:
                hand_out()
                job = pending[0]
                if job.error is not None:
                    pending.popleft()
                    yield job.source, job.error
                    continue
                worker = job.worker
                assert worker is not None and worker.jobs[0] is job
                reply = worker.inbox.get()
                tag = reply[0]
                if tag == "items":
                    for item in reply[1]:
                        job.received += 1
                        if isinstance(item, dict):  # a child that sends raw items
                            item = normalize_raw_item(item, job.source, now)
                        yield job.source, item
                    continue
                if tag in ("done", "fatal"):
                    worker.jobs.popleft()
                    pending.popleft()
                    job.worker = None
                    if tag == "fatal":
                        error = ItemError(
                            str(reply[1]), _file_level(job.source), fatal_for_file=True
                        )
                        yield job.source, error
                    continue
                if tag == "hung":
                    message = (
                        f"PST reader stopped answering for {self.idle_timeout:.0f} s after "
                        f"{job.received} items; killed"
                    )
                else:
                    message = f"PST reader crashed after {job.received} items"
                code = self._retire(worker)  # its queued files go to a fresh child
                pending.popleft()
                yield (
                    job.source,
                    ItemError(
                        f"{message} (exit code {code}); the rest of this file was skipped",
                        _file_level(job.source),
                        fatal_for_file=True,
                    ),
                )
        finally:
            # Abandoned midway: children still streaming files nobody reads are out of step.
            for worker in {job.worker for job in pending if job.worker is not None}:
                self._retire(worker)


def _file_level(source: str) -> Provenance:
    return Provenance(source=source, kind=SourceKind.PST)


def _signature_problem(source: str) -> str | None:
    try:
        return pst_child.check_signature(source)
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"


def iter_pst(
    path: str | os.PathLike[str], *, sink: AttachmentSink | None = None
) -> Iterator[IngestRecord]:
    """Every item of one PST/OST file (a fresh child process for this file alone)."""
    with PstReader(sink=sink, workers=1) as reader:
        yield from reader.iter_file(path)


def require_pst(path: str | os.PathLike[str]) -> None:
    """Raise `IngestError` unless the file carries the PST/OST signature."""
    try:
        problem = pst_child.check_signature(os.fspath(path))
    except OSError as exc:
        raise IngestError(f"cannot read file: {exc}", source=os.fspath(path)) from exc
    if problem:
        raise IngestError(problem, source=os.fspath(path))
