"""Fit the co-location (contention) parameters per GPU type to public measurements, and report.

Run ``python -m scepsy_opt.profile.contention`` to refit and rewrite
``models/calibration/contention_params.yaml``; ``--check`` only prints the report of the
shipped parameters. Data: ``models/calibration/contention/measurements.yaml`` (see its
``SOURCE.md``).

1. ``kappa`` (the extra memory-bound time next to an active neighbour) is the measured slowdown
   of memory-bound work next to a neighbour that leaves the bandwidth pool unsaturated
   (``kappa_measurements``), per GPU family: Hopper from an H200 decode-next-to-embedding A/B
   test, Ampere (and the L40S, which has no data of its own) from A100 kernel measurements.
2. ``pool_fraction`` (the share of the spec HBM bandwidth all clients share) by least squares
   on log step time over the co-location cases of :data:`FIT_CASES` (two Qwen3-4B instances
   at 50% of an A100-40GB at low concurrency, where the measured ITL is a plain decode step),
   bounded by 1 (the pool cannot exceed the GPU's bandwidth); the error is reported on the
   other cases. GPU types without co-location data inherit the fitted fraction
   (:data:`POOL_FROM`), and say so in their ``source``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from scepsy_opt.core.artifacts import atomic_write_text
from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.core.contention import (
    PARAMS_FILE,
    ContentionParams,
    contention_dir,
    gpu_times,
    load_contention_params,
)
from scepsy_opt.core.markdown import table
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.roofline import load_roofline_params
from scepsy_opt.profile.predict import ColocatedInstance, colocated_step

log = logging.getLogger(__name__)
MEASUREMENTS = "contention/measurements.yaml"
FIT_CASES = ("dynamo_a100_40gb_2x_qwen3_4b_c1", "dynamo_a100_40gb_2x_qwen3_4b_c2")
POOL_FROM = "A100-SXM-40GB"  # the only GPU type with co-location cases
POOL_GRID = np.round(np.arange(0.50, 1.0001, 0.005), 3)


@dataclasses.dataclass(frozen=True)
class CaseResult:
    id: str
    gpu: str
    measured_ms: float
    predicted_ms: float
    alone_measured_ms: float
    alone_predicted_ms: float
    fitted_on: bool

    @property
    def error(self) -> float:
        return self.predicted_ms / self.measured_ms - 1

    @property
    def slowdown_error(self) -> float:
        """Error of the predicted slowdown over a dedicated GPU against the measured one."""
        return (self.predicted_ms / self.alone_predicted_ms) / (
            self.measured_ms / self.alone_measured_ms) - 1


def load_measurements(path: Path | None = None) -> dict[str, Any]:
    return yaml.safe_load((path or contention_dir() / MEASUREMENTS).read_text())


def _case_steps(case: dict, catalog: Any, memory: MemorySettings) -> tuple[list, Any]:
    steps = [colocated_step("contention", f"{case['id']}.instances[{i}].",
                            ColocatedInstance(**raw), case["gpu"], catalog, memory)
             for i, raw in enumerate(case["instances"])]
    alone = ColocatedInstance(**{**case["instances"][0], "gpu_fraction": 1.0})
    return steps, colocated_step("contention", case["id"], alone, case["gpu"], catalog, memory)


def evaluate(params: dict[str, ContentionParams], data: dict[str, Any] | None = None
             ) -> list[CaseResult]:
    """Every co-location case predicted with ``params``."""
    data = data or load_measurements()
    catalog, memory = load_catalog(), MemorySettings()
    out = []
    for case in data["cases"]:
        steps, alone = _case_steps(case, catalog, memory)
        times, _ = gpu_times(steps, params[case["gpu"]])
        out.append(CaseResult(case["id"], case["gpu"], float(case["measured_ms"]), times[0],
                              float(case["alone_ms"]), alone.alone_ms,
                              case["id"] in FIT_CASES))
    return out


def fit(data: dict[str, Any] | None = None) -> dict[str, ContentionParams]:
    """The contention parameters of every calibrated GPU type (see the module docstring)."""
    data = data or load_measurements()
    roofline = load_roofline_params()
    kappa_of: dict[str, tuple[float, str]] = {}
    for item in data["kappa_measurements"]:
        for gpu in item["gpus"]:
            kappa_of[gpu] = (round(float(item["slowdown"]) - 1, 4), item["id"])
    missing = sorted(set(roofline) - set(kappa_of))
    if missing:
        raise ValueError(f"no kappa measurement covers {', '.join(missing)}")

    def params_with(pool: float) -> dict[str, ContentionParams]:
        return {gpu: ContentionParams(gpu, pool, kappa_of[gpu][0], rp.gemm_memory_eff)
                for gpu, rp in roofline.items()}

    fit_cases = {"cases": [c for c in data["cases"] if c["id"] in FIT_CASES]}
    losses = [sum(math.log(r.predicted_ms / r.measured_ms) ** 2
                  for r in evaluate(params_with(float(pool)), fit_cases))
              for pool in POOL_GRID]
    pool = float(POOL_GRID[int(np.argmin(losses))])
    out = {}
    for gpu, p in params_with(pool).items():
        origin = "fitted on" if gpu == POOL_FROM else f"from {POOL_FROM}, fitted on"
        out[gpu] = dataclasses.replace(p, source=(
            f"pool_fraction {origin} {', '.join(FIT_CASES)}; kappa: {kappa_of[gpu][1]}"))
    return out


def write_params(params: dict[str, ContentionParams], path: Path | None = None) -> Path:
    path = path or contention_dir() / PARAMS_FILE
    document = {
        "schema": 1,
        "note": "fitted by python -m scepsy_opt.profile.contention from "
                "contention/measurements.yaml; do not edit by hand: refit",
        "gpus": {gpu: {"pool_fraction": p.pool_fraction, "kappa": p.kappa, "source": p.source}
                 for gpu, p in sorted(params.items())},
    }
    atomic_write_text(path, "# Contention parameters per GPU type (scepsy_opt.core.contention)\n"
                      + yaml.safe_dump(document, sort_keys=False, width=100))
    return path


def report(results: list[CaseResult]) -> str:
    return "\n".join(table(
        ("case", "measured ms", "predicted ms", "error", "slowdown error", "fit"),
        [(r.id, f"{r.measured_ms:.2f}", f"{r.predicted_ms:.2f}", f"{r.error:+.1%}",
          f"{r.slowdown_error:+.1%}", "fit" if r.fitted_on else "held out") for r in results],
        align="lrrrrl"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scepsy_opt.profile.contention",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="report the shipped parameters without refitting")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.check:
        params = load_contention_params()
    else:
        params = fit()
        path = write_params(params)
        load_contention_params.cache_clear()
        log.info("wrote %s", path)
    for gpu, p in sorted(params.items()):
        log.info("%s: pool_fraction %g, kappa %g", gpu, p.pool_fraction, p.kappa)
    sys.stdout.write(report(evaluate(params)) + "\n")


if __name__ == "__main__":
    main()
