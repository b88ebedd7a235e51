"""Progress of long work (profiling sweeps, simulations, searches) through ``logging``.

``Progress`` logs "<label>: k/n (p%), elapsed, eta" at most every ``interval_s`` seconds and at
the end, so a sweep shows where it is without a terminal-only progress bar.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from scepsy_opt.core.parallel import raise_if_interrupted


@dataclass
class Progress:
    label: str
    total: int
    logger: logging.Logger
    interval_s: float = 5.0
    done: int = 0
    _start: float = field(default_factory=time.monotonic)
    _last: float = field(default=float("-inf"))

    def advance(self, steps: int = 1, note: str = "") -> None:
        raise_if_interrupted()  # a Ctrl-C whose exception was swallowed stops the work here
        self.done += steps
        now = time.monotonic()
        if now - self._last < self.interval_s and self.done < self.total:
            return
        self._last = now
        elapsed = now - self._start
        share = self.done / self.total if self.total else 1.0
        eta = elapsed * (1 - share) / share if share > 0 else float("nan")
        suffix = f" {note}" if note else ""
        self.logger.info("%s: %d/%d (%.0f%%), %.1f s elapsed, eta %.1f s%s", self.label,
                         self.done, self.total, 100 * share, elapsed, eta, suffix)
