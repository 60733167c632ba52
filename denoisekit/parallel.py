"""Fan work out over local processes: one place for batch denoising and benchmarks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits

Item = TypeVar("Item")
Result = TypeVar("Result")


def limit_threads(threads: int) -> None:
    """Cap the threads of numerical libraries (in worker processes, or for ``--threads``)."""
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(threads)  # for processes started from here
    threadpool_limits(threads)  # for libraries already loaded in this one
    import torch

    torch.set_num_threads(threads)


def parallel_map(function: Callable[[Item], Result], items: Iterable[Item], workers: int = 1) -> Iterator[Result]:
    """``map(function, items)``, in order, over ``workers`` processes sharing the cores.

    ``function`` must be importable at module level (it is pickled to the workers).
    """
    if workers <= 1:
        yield from map(function, items)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(workers, initializer=limit_threads, initargs=(threads,)) as pool:
        yield from pool.map(function, items)
