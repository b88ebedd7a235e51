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
