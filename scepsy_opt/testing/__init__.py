"""Seeded instance generators and simple duration models shared by tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scepsy_opt.workflow.sampler import LinearDurations

__all__ = ["LinearDurations"]


def random_program(rng: np.random.Generator, llms: tuple[str, ...], depth: int = 3
                   ) -> dict[str, Any]:
    """A random, valid program tree (YAML form) using every node kind.

    Leaves are calls of ``llms`` and tools; inner nodes are seq, par (branches and fan-out),
    choice and bounded loops, nested up to ``depth``.
    """
    def dist(low: int, high: int) -> Any:
        pick = rng.integers(3)
        if pick == 0:
            return int(rng.integers(low, high + 1))
        if pick == 1:
            return {"dist": "uniform", "low": low, "high": high}
        return {"dist": "lognormal", "mean": (low + high) / 2, "cv": 0.5, "min": low, "max": high}

    def leaf() -> dict[str, Any]:
        if rng.random() < 0.2:
            return {"tool": {"name": f"tool{int(rng.integers(3))}",
                             "latency_s": {"dist": "exponential", "mean": 0.5, "max": 5.0}}}
        call: dict[str, Any] = {
            "llm": str(rng.choice(llms)),
            "input_tokens": dist(16, 512),
            "output_tokens": dist(0, 64),
        }
        if rng.random() < 0.3:
            call["input_growth_tokens"] = int(rng.integers(1, 50))
        return {"call": call}

    def node(level: int) -> dict[str, Any]:
        if level >= depth or rng.random() < 0.3:
            return leaf()
        kind = rng.integers(6)
        width = int(rng.integers(1, 4))
        if kind == 0:
            return {"seq": [node(level + 1) for _ in range(width)]}
        if kind == 1:
            return {"par": [node(level + 1) for _ in range(width)]}
        if kind == 2:
            return {"par": {"count": dist(0, 4), "body": node(level + 1)}}
        if kind == 3:
            weights = rng.random(width) + 0.1
            probs = [float(w) for w in weights / weights.sum()]
            probs[-1] = 1.0 - sum(probs[:-1])
            return {"choice": [{"p": p, "body": node(level + 1)} for p in probs]}
        if kind == 4:
            return {"loop": {"count": dist(0, 4), "body": node(level + 1)}}
        return {"loop": {"continue_p": float(rng.uniform(0, 0.8)),
                         "min_iterations": int(rng.integers(0, 2)), "max_iterations": 5,
                         "body": node(level + 1)}}

    return node(0)


@dataclass(frozen=True)
class TokenDurations:
    """A plausible unloaded call latency: ``overhead + input x prefill + output x decode``."""

    overhead_s: float = 0.02
    prefill_s: float = 1e-4
    decode_s: float = 0.015

    def duration_s(self, llm: str, input_tokens: np.ndarray,
                   output_tokens: np.ndarray) -> np.ndarray:
        return (self.overhead_s + self.prefill_s * np.asarray(input_tokens, dtype=np.float64)
                + self.decode_s * np.asarray(output_tokens, dtype=np.float64))


def synthetic_surrogate(rng: np.random.Generator, llms: tuple[str, ...], *,
                        program: dict[str, Any] | None = None, requests: int = 200) -> Any:
    """A workflow surrogate with known, random but plausible parameters (no simulation):
    capacity ``mu = m tp^a f^b`` and unloaded latency ``l0 = u tp^-c f^-d`` per llm, constant
    single-instance load curves, random load parameters, and the critical paths of
    ``requests`` requests of ``program`` (random when not given) over catalog ``llms``.

    Returns ``(surrogate, stats)``; ``stats`` (the workflow statistics) makes the allocation
    problem with :func:`scepsy_opt.core.problem.problem_from_stats`.
    """
    import jax

    from scepsy_opt.surrogate import model
    from scepsy_opt.surrogate.paths import path_set
    from scepsy_opt.surrogate.workflow import WorkflowSurrogate
    from scepsy_opt.workflow.analyze import analyze_table
    from scepsy_opt.workflow.program import parse_program
    from scepsy_opt.workflow.sampler import sample_program

    if program is None:
        program = {"seq": [random_program(rng, llms, depth=2) for _ in range(2)]
                   + [{"call": {"llm": llm, "input_tokens": 200, "output_tokens": 20}}
                      for llm in llms]}
    table = sample_program(parse_program(program, source="synthetic"), requests,
                           seed=int(rng.integers(2**31)), durations=TokenDurations(),
                           source="synthetic")
    stats = analyze_table(table, workflow="synthetic", duration_model="synthetic")
    order = tuple(s.llm for s in stats.llms)
    log2 = np.log(2.0)

    def surface(value: float, tp_exp: float, f_exp: float) -> tuple[np.ndarray, np.ndarray]:
        # exp(w . [1, x, y, ...]) = value tp^tp_exp f^f_exp  (x = log2 tp, y = log2 f)
        return (np.array([np.log(value), tp_exp * log2, f_exp * log2, 0.0, 0.0, 0.0]),
                np.zeros((model.TP_GRID, model.FRACTION_GRID)))

    instance: dict[str, list[np.ndarray]] = {}
    for _ in order:
        parts = {
            "mu": surface(rng.uniform(2, 20), rng.uniform(0.6, 0.95), rng.uniform(0.6, 0.95)),
            "l0": surface(rng.uniform(0.2, 2.0), -rng.uniform(0.2, 0.6),
                          -rng.uniform(0.1, 0.4)),
            "qa": surface(rng.uniform(0.05, 0.2), 0.0, 0.0),
            "qb": surface(rng.uniform(0.2, 1.0), 0.0, 0.0),
            "qc": surface(rng.uniform(0.1, 0.8), 0.0, 0.0),
        }
        for name, (w, r) in parts.items():
            instance.setdefault(f"w_{name}", []).append(w)
            instance.setdefault(f"r_{name}", []).append(r)
    load = model.to_numpy(model.init_load(jax.random.PRNGKey(int(rng.integers(2**31))),
                                          len(order)))
    load["s"] = load["s"] + rng.normal(0, 0.3, load["s"].shape)
    load["k"] = rng.normal(0, 0.5, load["k"].shape)
    durations = table.end_s - table.start_s
    paths = path_set(table, order, durations)
    mean_call = np.array([durations[(table.kind == 0) & (table.llm == table.llms.index(llm))]
                          .mean() for llm in order])
    surrogate = WorkflowSurrogate(
        llms=order, members=("synthetic",), member_weight=np.ones(1),
        calls_per_request=np.array([s.calls_per_request.mean for s in stats.llms]),
        parallelism=np.array([max(1.0, s.parallelism) for s in stats.llms]),
        ref_tp=np.ones(len(order)), mean_call_s=mean_call,
        instance={k: np.stack(v) for k, v in instance.items()}, load=load, paths=(paths,))
    return surrogate, stats
