"""Where candidates are evaluated: in this process, in local worker processes, or on Ray.

Every executor has one method, :meth:`Executor.map_unordered`: run ``function(*arguments)``
for each item and yield ``(position, result)`` as each one finishes, so the search can log a
result the moment it exists. Closing the iterator early (the user stopped the search) cancels
what has not started. Nothing here imports torch or Ray until it is used.

Examples
--------
>>> with make_executor(workers=1) as executor:
...     sorted(executor.map_unordered(pow, [(2, 3), (3, 2)]))
[(0, 8), (1, 9)]
"""

from __future__ import annotations

import multiprocessing
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from denoisekit.errors import InputError
from denoisekit.parallel import limit_threads


class Executor(ABC):
    """Runs independent evaluations; a context manager that releases its workers on exit."""

    @abstractmethod
    def map_unordered(self, function: Callable[..., Any], items: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        """Yield ``(position in items, function(*item))`` in order of completion."""

    def close(self) -> None:  # noqa: B027 (optional: an in-process executor holds nothing)
        """Release workers (processes, a Ray connection)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """One at a time, in this process (``--workers 1``: no start-up cost, easy to debug)."""

    def map_unordered(self, function: Callable[..., Any], items: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        for position, item in enumerate(items):
            yield position, function(*item)


class LocalExecutor(Executor):
    """A pool of ``workers`` spawned processes sharing this machine's cores.

    Spawned, not forked: a fork of a process that already runs torch threads can deadlock.
    Each worker caps its numerical libraries at ``threads`` (default: the cores divided among
    the workers). The pool is started on first use and kept for the whole search.
    """

    def __init__(self, workers: int, threads: int | None = None) -> None:
        self.workers = workers
        self.threads = threads or max(1, (os.cpu_count() or 1) // workers)
        self._pool: ProcessPoolExecutor | None = None

    def map_unordered(self, function: Callable[..., Any], items: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=limit_threads, initargs=(self.threads,)
            )
        futures = {self._pool.submit(function, *item): position for position, item in enumerate(items)}
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield futures[future], future.result()
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _limited(function: Callable[..., Any], threads: int, *arguments: Any) -> Any:
    """Run ``function`` in a Ray worker with its numerical libraries capped at ``threads``."""
    limit_threads(threads)
    return function(*arguments)


class RayExecutor(Executor):
    """Evaluations as Ray tasks of one CPU each, on a cluster or on this machine.

    Parameters
    ----------
    address : str
        ``local`` starts a Ray instance on this machine (with ``workers`` CPUs) for this search
        and stops it at the end; anything else (``auto``, ``ray://HOST:10001``, ``HOST:6379``)
        is passed to ``ray.init(address=...)`` to join a running cluster, whose nodes must have
        denoisekit installed.
    workers : int
        CPUs of the local instance (``address="local"`` only).
    threads : int
        Threads each task's numerical libraries may use.
    """

    def __init__(self, address: str, workers: int = 1, threads: int = 1) -> None:
        try:
            import ray
        except ImportError:
            raise InputError("--ray needs the ray package: pip install 'denoisekit[ray]'") from None
        self._ray = ray
        self.threads = threads
        self._owner = not ray.is_initialized()
        if self._owner:
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            try:
                if address == "local":
                    ray.init(num_cpus=workers, **options)
                else:
                    ray.init(address=address, **options)
            except ConnectionError as error:
                raise InputError(f"could not join the Ray cluster at {address!r}: {error}") from None
        self._task = ray.remote(num_cpus=1)(_limited)

    def map_unordered(self, function: Callable[..., Any], items: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        ray = self._ray
        refs = {self._task.remote(function, self.threads, *item): position for position, item in enumerate(items)}
        pending = list(refs)
        try:
            while pending:
                finished, pending = ray.wait(pending, num_returns=1)
                yield refs[finished[0]], ray.get(finished[0])
        finally:
            for ref in pending:
                ray.cancel(ref)

    def close(self) -> None:
        if self._owner and self._ray.is_initialized():
            self._ray.shutdown()


def make_executor(workers: int = 1, ray: str | None = None, threads: int | None = None) -> Executor:
    """Ray when ``ray`` names an address, else local processes (in-process for one worker)."""
    if workers < 1:
        raise InputError(f"workers={workers}: must be at least 1")
    if ray is not None:
        return RayExecutor(ray, workers, threads or 1)
    return SerialExecutor() if workers == 1 else LocalExecutor(workers, threads)
