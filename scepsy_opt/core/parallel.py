"""Independent simulations on several processes (the simulator is single-threaded Python).

``workers`` processes are started with ``spawn`` (safe next to JAX's threads); with one worker,
or one item, everything runs in this process. Results come back in the order of the items.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Usable CPU cores (respecting the process's affinity mask)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def map_processes(function: Callable[[T], R], items: Iterable[T], workers: int
                  ) -> Iterator[R]:
    """``map(function, items)`` on up to ``workers`` processes; ``function`` must be a
    module-level function and items picklable."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        yield from map(function, items)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=context) as pool:
        yield from pool.map(function, items)
