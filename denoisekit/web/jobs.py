"""Work the web server runs off the event loop: bounded lanes of worker threads, and jobs.

A :class:`Lane` is a pool of worker threads with a cap on the work it accepts (queued plus
running); past the cap it raises :class:`Busy` instead of queueing without end. Two lanes
keep a long fit from delaying quick requests: ``quick`` (one-pass methods, noise estimates)
and ``long`` (zero-shot fits and the like).

A :class:`Job` is one denoising request: its state, its progress history for the live curve,
and the files it produced. :class:`JobStore` keeps jobs by unguessable id, cancels them,
and forgets finished ones after a time-to-live.

Threads rather than processes: NumPy, SciPy and torch release the GIL in their heavy loops,
and cancellation and progress are then plain shared memory.
"""

from __future__ import annotations

import itertools
import logging
import math
import numbers
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from denoisekit.errors import Cancelled, InputError

logger = logging.getLogger(__name__)

#: Job states; the last three are final.
STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL = frozenset(STATES[2:])
#: Points of the progress curve kept per job; later reports still update step and total.
MAX_POINTS = 20_000
# Versions come from one counter: next() on it is atomic, where "+= 1" from two threads could lose a change.
_VERSIONS = itertools.count(1)


class Busy(Exception):
    """A lane is full; the message says so in words a person can act on."""


class Lane:
    """Worker threads that accept at most ``limit`` pieces of work at a time (queued plus running).

    Parameters
    ----------
    name : str
        How messages call this lane's work (``"quick"``, ``"long"``).
    workers : int
        Threads running work at the same time.
    limit : int
        Work accepted at once, queued plus running; more raises :class:`Busy`.
    """

    def __init__(self, name: str, workers: int, limit: int) -> None:
        if workers < 1 or limit < workers:
            raise ValueError(f"lane {name!r}: need 1 <= workers <= limit, got workers={workers}, limit={limit}")
        self.name, self.workers, self.limit = name, workers, limit
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix=f"denoisekit-{name}")
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Work accepted and not finished yet."""
        return self._pending

    def submit(self, function: Callable[..., Any], *args: Any) -> Future:
        """Run ``function(*args)`` on a worker thread, or raise :class:`Busy` when the lane is full."""
        with self._lock:
            if self._pending >= self.limit:
                raise Busy(
                    f"the server is busy: {self._pending} {self.name} tasks are queued or running "
                    f"(at most {self.limit}); try again in a moment"
                )
            self._pending += 1
        future = self._executor.submit(function, *args)
        future.add_done_callback(self._release)
        return future

    def _release(self, _: Future) -> None:
        with self._lock:
            self._pending -= 1

    def shutdown(self) -> None:
        """Drop queued work; running work ends on its own (jobs are asked to stop first)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass(eq=False)  # a job is an entity: equal only to itself
class Job:
    """One denoising request, as the event stream and ``GET /api/jobs/{id}`` report it.

    Worker threads write the fields and the event loop reads them. Each write is one
    attribute assignment or list append (atomic under the GIL), followed by :meth:`touch`,
    so readers see a consistent-enough state and learn from ``version`` that it changed.
    """

    id: str
    lane: str
    #: What the work function needs (decoded images, parameters); dropped once finished.
    payload: Any
    status: str = "queued"
    step: int = 0
    total: int = 0
    #: The progress curve: ``{"step": n, "<metric>": value, ...}`` per report.
    history: list[dict[str, float]] = field(default_factory=list)
    #: JSON-ready facts found along the way (sigma, metrics, image size...).
    facts: dict[str, Any] = field(default_factory=dict)
    #: Files produced, by name: ``(content, media type)``.
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    error: str | None = None
    #: Whether ``error`` is the user's (bad input found late) rather than a bug.
    bad_input: bool = False
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    version: int = 0
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    future: Future | None = None

    @property
    def is_final(self) -> bool:
        """Whether the job has ended (done, failed or cancelled)."""
        return self.status in FINAL

    def touch(self) -> None:
        """Tell event streams that something changed."""
        self.version = next(_VERSIONS)

    def publish(self, files: dict[str, tuple[bytes, str]] | None = None, **facts: Any) -> None:
        """Add files and facts, replacing each dict whole so that readers never see one half-updated."""
        if files:
            self.files = {**self.files, **files}
        if facts:
            self.facts = {**self.facts, **facts}
        self.touch()

    def progress(self, step: int, total: int, metrics: dict) -> bool:
        """The :data:`~denoisekit.registry.Progress` callback given to the method: records, and says stop."""
        self.step, self.total = int(step), int(total)
        point = {k: float(v) for k, v in metrics.items() if isinstance(v, numbers.Real) and math.isfinite(v)}
        if point and len(self.history) < MAX_POINTS:
            self.history.append({"step": self.step, **point})
        self.touch()
        return not self.cancel_requested.is_set()


class JobStore:
    """Jobs by id: submit them to their lane, cancel them, forget them after ``ttl`` seconds.

    Parameters
    ----------
    lanes : dict of str to Lane
        Where jobs run, by lane name.
    ttl : float
        Seconds a finished job (and its files) is kept.
    max_finished : int
        Finished jobs kept at most; the oldest go first.
    """

    def __init__(self, lanes: dict[str, Lane], ttl: float, max_finished: int) -> None:
        self.lanes, self.ttl, self.max_finished = lanes, ttl, max_finished
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(self, lane: str, payload: Any, work: Callable[[Job], None], facts: dict[str, Any] | None = None) -> Job:
        """Create a job with ``facts`` and queue ``work(job)`` on ``lane``; raises :class:`Busy` when it is full."""
        job = Job(secrets.token_urlsafe(12), lane, payload, facts=dict(facts or {}))
        job.future = self.lanes[lane].submit(self._run, job, work)
        with self._lock:
            self._jobs[job.id] = job
        return job

    def get(self, job_id: str) -> Job | None:
        """The job, or None when there is none by that id (never was, expired, or deleted)."""
        self.sweep()
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job: Job) -> None:
        """Ask ``job`` to stop: a queued job never starts; a running one stops at its next progress report."""
        job.cancel_requested.set()
        if job.future is not None and job.future.cancel():
            self._finish(job, "cancelled")
        job.touch()

    def delete(self, job_id: str) -> None:
        """Forget a job and its files."""
        with self._lock:
            self._jobs.pop(job_id, None)

    def sweep(self, now: float | None = None) -> None:
        """Forget finished jobs past their time-to-live, and the oldest beyond ``max_finished``."""
        now = time.time() if now is None else now
        with self._lock:
            finished = sorted((j for j in self._jobs.values() if j.finished is not None), key=lambda j: j.finished)
            kept = [j for j in finished if now - j.finished <= self.ttl]
            forgotten = [j for j in finished if j not in kept] + kept[: max(0, len(kept) - self.max_finished)]
            for job in forgotten:
                del self._jobs[job.id]

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        with self._lock:
            states = [job.status for job in self._jobs.values()]
        return {state: states.count(state) for state in STATES}

    def shutdown(self) -> None:
        """Ask every job to stop and drop queued work (the server is going away)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel_requested.set()
        for lane in self.lanes.values():
            lane.shutdown()

    def _run(self, job: Job, work: Callable[[Job], None]) -> None:
        if job.cancel_requested.is_set():  # cancelled between queueing and starting
            self._finish(job, "cancelled")
            return
        job.status, job.started = "running", time.time()
        job.touch()
        try:
            work(job)
        except Cancelled:
            self._finish(job, "cancelled")
        except InputError as error:
            job.bad_input = True
            self._finish(job, "failed", str(error))
        except Exception as error:  # a bug: logged in full, reported in one line
            logger.exception("job %s failed", job.id)
            self._finish(job, "failed", f"internal error: {type(error).__name__}: {error}")
        else:
            # A method that never reports progress cannot be stopped midway; honour the request at the end.
            self._finish(job, "cancelled" if job.cancel_requested.is_set() else "done")

    @staticmethod
    def _finish(job: Job, status: str, error: str | None = None) -> None:
        if job.is_final:
            return
        job.error, job.payload = error, None  # the decoded images are no longer needed
        job.finished = time.time()
        job.status = status  # last: a reader seeing a final status finds everything else in place
        job.touch()
