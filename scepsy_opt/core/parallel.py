"""Independent simulations on several processes (the simulator is single-threaded Python).

``workers`` processes are started with ``spawn`` (safe next to JAX's threads); with one worker,
or one item, everything runs in this process. Results come back in the order of the items.

Workers die with the process that started them: on Linux the kernel kills a worker when its
parent exits (``PR_SET_PDEATHSIG``), elsewhere a watchdog thread in the worker notices that its
parent changed. They ignore Ctrl-C (the terminal sends SIGINT to the whole process group): the
parent stops them when it is interrupted or fails, instead of waiting for their work. They do
not import the program's ``__main__`` module (for ``python -m scepsy_opt``, the whole command
line stack): only the modules of the function they run, after the death signal is armed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Usable CPU cores (respecting the process's affinity mask)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Worker initializer: SIGKILL this process when ``parent`` exits, ignore SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    armed = False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux: no prctl
        pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int, every_s: float = 1.0) -> None:
    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(1)


def map_processes(function: Callable[[T], R], items: Iterable[T], workers: int
                  ) -> Iterator[R]:
    """``map(function, items)`` on up to ``workers`` processes; ``function`` must be a
    module-level function and items picklable. An exception here (Ctrl-C included) or a
    failing item stops the workers at once."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        yield from map(function, items)
        return
    if multiprocessing.get_start_method(allow_none=True) not in (
            None, *multiprocessing.get_all_start_methods()):
        # inside a launcher's worker (Hydra's joblib launcher: loky), whose start method a
        # spawned worker cannot restore ("cannot find context for 'loky'")
        multiprocessing.set_start_method("spawn", force=True)
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=context,
                               initializer=_die_with_parent, initargs=(os.getpid(),))
    try:
        with _starting_workers():
            results = pool.map(function, items)  # submits every item: starts the workers
        yield from results
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown()


@contextmanager
def _starting_workers() -> Iterator[None]:
    """While workers start: SIGINT ignored (in the main thread, where it can be), which they
    inherit from their first instruction, and the ``__main__`` module hidden from ``spawn``
    (which would import it in every worker before the initializer runs)."""
    main = sys.modules.get("__main__")
    hidden = {name: main.__dict__.pop(name) for name in ("__spec__", "__file__")
              if main is not None and name in main.__dict__}
    if main is not None:
        main.__spec__ = None
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if main is not None:
            main.__dict__.update(hidden)
            if "__spec__" not in hidden:
                del main.__spec__


def _stop(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's workers and let it go without waiting for their work."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.kill()
    deadline = time.monotonic() + 5
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        # the pool's own thread may reap the killed worker first: our join then returns at
        # once and the process looks alive until that thread records its exit status
        while process.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)


_PENDING: list[int] = []  # Ctrl-Cs received and not yet acted on (see ``interrupt_handler``)


def interrupt_handler(signum: int, frame: object) -> None:
    """SIGINT handler: remember the interrupt, then raise ``KeyboardInterrupt`` as Python's own
    handler does. Remembering it matters when the exception is raised where Python swallows it
    (a garbage-collector callback, a ``__del__``; JAX runs one on every collection): the run
    still stops at the next ``raise_if_interrupted``."""
    _PENDING.append(signum)
    raise KeyboardInterrupt


def install_interrupt_handler() -> None:
    """``interrupt_handler`` for SIGINT, unless SIGINT is ignored (a job started in the
    background keeps ignoring it) or this is not the main thread."""
    if threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, interrupt_handler)


def interrupt_acted_on() -> None:
    """The ``KeyboardInterrupt`` was caught by whoever stops the run: nothing is pending."""
    _PENDING.clear()


def raise_if_interrupted() -> None:
    """``KeyboardInterrupt`` if a Ctrl-C arrived whose exception was swallowed on its way."""
    if _PENDING and threading.current_thread() is threading.main_thread():
        _PENDING.clear()
        raise KeyboardInterrupt


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ctrl-C (SIGINT) held back until the block ends, then raised (in the main thread; in
    another one the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received and callable(previous):
            previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt
