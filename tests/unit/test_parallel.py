"""Worker processes: results in order, and workers that never outlive their parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from scepsy_opt.core.parallel import map_processes

REPO = Path(__file__).resolve().parents[2]


def test_results_come_back_in_the_order_of_the_items():
    assert list(map_processes(abs, [-3, 1, -2, 5], workers=2)) == [3, 1, 2, 5]


def test_a_failing_item_stops_the_workers():
    """An item that raises: the error comes through, and no worker is left running."""
    with pytest.raises(TypeError):
        list(map_processes(abs, [1, "x", 3, 4], workers=2))
    import multiprocessing

    assert not [p for p in multiprocessing.active_children() if p.is_alive()]


# A parent that starts a child running the watchdog alone (as where prctl is missing), prints
# the child's pid, then waits to be killed.
WATCHED = textwrap.dedent("""
    import multiprocessing, os, sys, time
    from scepsy_opt.core import parallel

    def child(parent):
        parallel._watch_parent(parent, every_s=0.1)

    if __name__ == "__main__":
        process = multiprocessing.get_context("spawn").Process(target=child,
                                                               args=(os.getpid(),))
        process.start()
        print(process.pid, flush=True)
        time.sleep(600)
""")


def test_the_watchdog_ends_a_worker_whose_parent_died(tmp_path):
    script = tmp_path / "watched.py"
    script.write_text(WATCHED)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    parent = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                              text=True)
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            break  # gone
        if state == "Z":
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the watched child outlived its parent")


# an object whose finalizer sends this process Ctrl-C: Python swallows the KeyboardInterrupt
GARBAGE = textwrap.dedent("""
    import os, signal

    class Garbage:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
""")

SWALLOWED = GARBAGE + textwrap.dedent("""
    import gc
    from scepsy_opt.core.parallel import install_interrupt_handler
    from scepsy_opt.pipeline import Interrupted, PipelineResult, RunContext, Stage, run_stages

    def first(ctx, result):
        Garbage()
        gc.collect()
        return result.add("first")

    def second(ctx, result):
        raise AssertionError("the second stage ran after Ctrl-C")

    install_interrupt_handler()
    stages = [Stage(name, run, lambda *a: []) for name, run in
              (("first", first), ("second", second))]
    try:
        run_stages(stages, RunContext(None, None))
    except Interrupted as stop:
        print("interrupted before", stop.stage, "after", ",".join(stop.result.ran))
""")


def test_a_ctrl_c_swallowed_in_a_finalizer_still_stops_the_run_before_the_next_stage():
    """Python ignores an exception raised in a finalizer or a garbage-collector callback
    (JAX runs one on every collection): the interrupt is remembered, and the run stops there."""
    result = subprocess.run([sys.executable, "-c", SWALLOWED], capture_output=True, text=True,
                            timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert "Exception ignored" in result.stderr  # the KeyboardInterrupt was swallowed
    assert result.stdout.strip() == "interrupted before second after first", result.stderr


def test_a_ctrl_c_swallowed_during_long_work_stops_it_at_its_next_progress_step():
    script = GARBAGE + textwrap.dedent("""
        import logging
        from scepsy_opt.core.parallel import install_interrupt_handler
        from scepsy_opt.core.progress import Progress

        install_interrupt_handler()
        progress = Progress("work", 10, logging.getLogger("work"))
        done = 0
        try:
            for step in range(10):
                if step == 3:
                    Garbage()  # freed at once: its finalizer swallows the KeyboardInterrupt
                progress.advance()
                done += 1
        except KeyboardInterrupt:
            print("stopped after", done)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert "Exception ignored" in result.stderr
    assert result.stdout.strip() == "stopped after 3", result.stderr
