"""Analytic capacity of one instance for an llm's call mix (calls per second at saturation).

At saturation an instance keeps ``n = min(max_num_seqs, kv_capacity // (P + O / 2))`` sequences
running (``P``, ``O``: mean prompt and output tokens). Each iteration decodes ``n`` tokens and,
as ``n / O`` sequences finish per iteration on average, prefills ``n * P / O`` prompt tokens of
the sequences replacing them; so it completes ``n / O`` calls in ``t(n)`` and the capacity is
``n / (O * t(n))``. Prefill-only calls (``O = 0``) fill every iteration with prompt tokens up
to the token budget. The iteration time comes from the same model the simulator uses.
"""

from __future__ import annotations

from scepsy_opt.core.memory import memory_plan
from scepsy_opt.core.problem import AllocationProblem
from scepsy_opt.core.types import Catalog
from scepsy_opt.sim.iteration import IterationModel
from scepsy_opt.sim.plan import roofline_iteration_model


def instance_capacity_rps(model: IterationModel, kv_capacity: int, max_num_seqs: int,
                          max_num_batched_tokens: int, mean_input: float,
                          mean_output: float) -> float:
    prompt = max(mean_input, 1.0)
    if mean_output < 1:
        per_iteration = min(max_num_batched_tokens, kv_capacity)
        calls = per_iteration / prompt
        pairs = calls * prompt * (prompt + 1) / 2
        step = model.step_ms(0, 0.0, int(per_iteration), pairs, per_iteration, 0)
        return 1e3 * calls / step
    running = max(1, min(max_num_seqs, int(kv_capacity // (prompt + mean_output / 2))))
    started = running / mean_output
    prefill = min(started * prompt, max_num_batched_tokens - running)
    pairs = started * prompt * (prompt + 1) / 2
    step = model.step_ms(running, running * (prompt + mean_output / 2), int(max(prefill, 0)),
                         pairs, started * prompt, running + int(started))
    return 1e3 * started / step


def replica_capacity_rps(problem: AllocationProblem, catalog: Catalog, llm: str, tp: int,
                         fraction: float) -> float:
    """Calls per second one instance sustains at saturation for the llm's mean call."""
    spec, gpu = catalog.llms[llm], catalog.gpus[problem.gpu]
    plan = memory_plan(spec, gpu, tp, fraction, problem.memory)
    model = roofline_iteration_model(spec, gpu, tp, fraction, problem.memory)
    demand = problem.demand(llm)
    return instance_capacity_rps(model, plan.kv_capacity_tokens, problem.memory.max_num_seqs,
                                 problem.memory.max_num_batched_tokens,
                                 demand.mean_input_tokens, demand.mean_output_tokens)
