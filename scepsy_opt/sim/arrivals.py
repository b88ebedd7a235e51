"""Request arrival processes: Poisson, Gamma (bursty) and replayed production timestamps.

Every process returns ``n`` increasing arrival times (seconds from 0) whose long-run rate is
``rate_rps``:

- ``poisson``: exponential gaps of mean ``1 / rate``;
- ``gamma``: Gamma-distributed gaps of mean ``1 / rate`` and coefficient of variation ``cv``
  (``cv > 1`` is burstier than Poisson, ``cv = 1`` is Poisson, ``cv < 1`` more regular);
- ``trace``: the gaps of a recorded trace (``models/arrivals/azure_llm_2023_code.csv``: one
  hour of a production code-completion service), rescaled so that their mean is ``1 / rate``
  and repeated when more arrivals are needed.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np

from scepsy_opt.core.errors import ConfigError
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.settings import check

PROCESSES = ("poisson", "gamma", "trace")
TRACES = {"azure_code_2023": "azure_llm_2023_code.csv"}


@dataclass(frozen=True)
class ArrivalProcess:
    """``process``: poisson, gamma (``cv``: burstiness) or trace (replayed timestamps of
    ``trace``)."""

    process: Literal["poisson", "gamma", "trace"] = "poisson"
    cv: float = 1.0
    trace: Literal["azure_code_2023"] = "azure_code_2023"

    def __post_init__(self) -> None:
        check(self.process in PROCESSES, "process", "unknown arrival process", self.process,
              f"use one of {', '.join(PROCESSES)}")
        check(self.cv > 0, "cv", "must be > 0", self.cv,
              "give the gaps' coefficient of variation")
        check(self.trace in TRACES, "trace", "unknown arrival trace", self.trace,
              f"use one of {', '.join(TRACES)}")

    def times(self, rate_rps: float, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` arrival times at mean rate ``rate_rps``."""
        if not rate_rps > 0:
            raise ConfigError("an arrival rate must be > 0", source="config",
                              field="target.rate_rps", value=rate_rps,
                              fix="set a positive request rate")
        mean_gap = 1.0 / rate_rps
        if self.process == "poisson":
            gaps = rng.exponential(mean_gap, n)
        elif self.process == "gamma":
            shape = 1.0 / self.cv**2
            gaps = rng.gamma(shape, mean_gap / shape, n)
        else:
            recorded = trace_gaps(self.trace)
            reps = -(-n // recorded.size)
            gaps = np.tile(recorded, reps)[:n] * (mean_gap / recorded.mean())
        return np.cumsum(gaps)


@functools.lru_cache(maxsize=4)
def trace_gaps(name: str) -> np.ndarray:
    """Inter-arrival gaps (s) of a shipped trace, in recorded order."""
    path: Path = data_dir("models") / "arrivals" / TRACES[name]
    with path.open() as handle:
        stamps = [datetime.fromisoformat(row["TIMESTAMP"][:26]).timestamp()
                  for row in csv.DictReader(handle)]
    gaps = np.diff(np.array(sorted(stamps)))
    gaps = gaps[gaps > 0]
    gaps.flags.writeable = False
    return gaps
