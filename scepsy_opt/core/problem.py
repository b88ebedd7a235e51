"""The allocation problem every allocation producer (search, baselines) answers.

Per llm: how many calls a request makes and how long they are (from the analyze stage), the
request rate to sustain, the cluster and its GPU type, the instance memory model and the highest
planned utilisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scepsy_opt.core.catalog import main_gpu_type
from scepsy_opt.core.constants import FRACTION_GRID
from scepsy_opt.core.errors import ScepsyError
from scepsy_opt.core.memory import MemorySettings, memory_plan
from scepsy_opt.core.placement import PlacementSettings
from scepsy_opt.core.stats import WorkflowStats
from scepsy_opt.core.topology import tp_problem
from scepsy_opt.core.types import TP_DEGREES, Catalog, ClusterSpec, GpuSpec, LlmSpec


class AllocationError(ScepsyError):
    """No allocation of the requested kind exists for the problem."""


@dataclass(frozen=True)
class LlmDemand:
    """What a workflow asks of one llm. ``context_tokens``: the longest call (prompt plus
    output) the llm serves; an instance must hold it in its KV cache."""

    llm: str
    calls_per_request: float
    mean_input_tokens: float
    mean_output_tokens: float
    share: float
    context_tokens: int = 0


@dataclass(frozen=True)
class AllocationProblem:
    demands: tuple[LlmDemand, ...]
    rate_rps: float
    cluster: ClusterSpec
    gpu: str
    memory: MemorySettings
    utilization_cap: float
    # where instances may go (memory headroom, fraction mechanism, pins, exclusions): the
    # search's packing check places by the same rules as the place stage
    placement: PlacementSettings = PlacementSettings()

    @property
    def call_overhead_s(self) -> float:
        """Seconds every llm call spends outside the engine (the cluster's
        ``serving_overhead_ms``): the simulator and the surrogate add it to each call."""
        return self.cluster.serving_overhead_ms / 1e3

    @property
    def gpus(self) -> int:
        """GPUs of the problem's GPU type in the cluster."""
        return sum(node.num_gpus for node in self.cluster.nodes if node.gpu == self.gpu)

    @property
    def max_tp(self) -> int:
        """The largest TP group: one NVLink domain of a node of the GPU type, or, on nodes
        without NVLink (every domain a single GPU), the whole node over PCIe."""
        sizes = []
        for node in self.cluster.nodes:
            if node.gpu == self.gpu:
                largest = max(len(domain) for domain in node.nvlink_domains)
                sizes.append(largest if largest > 1 else node.num_gpus)
        return max(sizes)

    def demand(self, llm: str) -> LlmDemand:
        for d in self.demands:
            if d.llm == llm:
                return d
        raise KeyError(llm)

    def call_rate_rps(self, llm: str) -> float:
        return self.demand(llm).calls_per_request * self.rate_rps


def longest_call_tokens(input_tokens: Any, output_tokens: Any) -> int:
    """The context an llm's calls need at most: its longest prompt plus its longest output
    (``input_tokens`` and ``output_tokens`` are summaries with a ``max``: the analysis's, or
    ``workflow_stats.json``'s, so a re-run gets the same number as the run)."""
    return int(input_tokens.max + output_tokens.max)


def problem_from_stats(stats: WorkflowStats, rate_rps: float, cluster: ClusterSpec,
                       memory: MemorySettings, utilization_cap: float,
                       gpu: str | None = None,
                       placement: PlacementSettings | None = None) -> AllocationProblem:
    """The problem of serving the requests ``stats`` describes at ``rate_rps`` on ``cluster``
    (its most common GPU type unless ``gpu`` is given)."""
    gpu = gpu or main_gpu_type(cluster)
    demands = tuple(
        LlmDemand(llm=s.llm, calls_per_request=s.calls_per_request.mean,
                  mean_input_tokens=s.input_tokens.mean,
                  mean_output_tokens=s.output_tokens.mean, share=s.share,
                  context_tokens=longest_call_tokens(s.input_tokens, s.output_tokens))
        for s in stats.llms)
    return AllocationProblem(demands, rate_rps, cluster, gpu, memory, utilization_cap,
                             placement or PlacementSettings())


def holds(problem: AllocationProblem, catalog: Catalog, llm: str, tp: int, fraction: float
          ) -> bool:
    """Whether an instance of ``llm`` at (tp, fraction) runs: heads divisible by ``tp``, memory
    feasible, and a KV cache that holds the llm's longest call of the workflow."""
    spec = catalog.llms[llm]
    if tp > problem.max_tp or tp_problem(spec, tp):
        return False
    plan = memory_plan(spec, catalog.gpus[problem.gpu], tp, fraction, problem.memory)
    return plan.feasible and plan.kv_capacity_tokens >= problem.demand(llm).context_tokens


def smallest_tp(problem: AllocationProblem, catalog: Catalog, llm: str) -> int | None:
    """The smallest TP degree whose whole GPUs hold ``llm`` (None: no node can)."""
    for tp in TP_DEGREES:
        if holds(problem, catalog, llm, tp, 1.0):
            return tp
    return None


def min_fraction(problem: AllocationProblem, catalog: Catalog, llm: str, tp: int) -> float | None:
    """The smallest GPU fraction on the 1/8 grid that holds ``llm`` at ``tp``."""
    for k in range(1, FRACTION_GRID + 1):
        if holds(problem, catalog, llm, tp, k / FRACTION_GRID):
            return k / FRACTION_GRID
    return None


def configurations(llm: LlmSpec, gpu: GpuSpec, memory: MemorySettings,
                   context_tokens: int = 0, max_tp: int = TP_DEGREES[-1]
                   ) -> list[tuple[int, float]]:
    """Every (TP degree, fraction on the 1/8 grid) that holds the llm and, in its KV cache,
    a call of ``context_tokens``."""
    out = []
    for tp in TP_DEGREES:
        if tp > max_tp or tp_problem(llm, tp):
            continue
        for k in range(1, FRACTION_GRID + 1):
            fraction = k / FRACTION_GRID
            plan = memory_plan(llm, gpu, tp, fraction, memory)
            if plan.feasible and plan.kv_capacity_tokens >= context_tokens:
                out.append((tp, fraction))
    return out


def servable_configurations(problem: AllocationProblem, catalog: Catalog, llm: str
                            ) -> list[tuple[int, float]]:
    """Every (TP degree, fraction) of the problem's GPU type that holds ``llm`` and its
    longest call; an :class:`AllocationError` naming the llm, what it needs and the fix when
    the call is longer than the llm's context window or no configuration holds it (checked
    before any fitting, so the user learns it in seconds)."""
    spec, demand = catalog.llms[llm], problem.demand(llm)
    where = f"cluster '{problem.cluster.name}'"
    if demand.context_tokens > spec.max_context_tokens:
        raise AllocationError(
            f"the workflow's longest call to {llm} has {demand.context_tokens} tokens (prompt "
            f"plus output), more than its context window of {spec.max_context_tokens}",
            source="workflow", field=llm, value=demand.context_tokens,
            fix=f"shorten the calls to {llm} to at most {spec.max_context_tokens} tokens, or "
                "use an llm with a longer context window")
    found = configurations(spec, catalog.gpus[problem.gpu], problem.memory,
                           demand.context_tokens, problem.max_tp)
    if not found:
        weights_gib = spec.weight_bytes / 2**30
        raise AllocationError(
            f"no TP degree up to {problem.max_tp} and GPU fraction holds {llm} "
            f"({weights_gib:.0f} GiB of weights) and a KV cache for its longest call "
            f"({demand.context_tokens} tokens) on {problem.gpu} "
            f"({catalog.gpus[problem.gpu].memory_gib:.0f} GiB each)", source=where, field=llm,
            fix="use a cluster with larger NVLink domains or GPUs with more memory, or "
                "shorten the workflow's longest calls")
    return found


def check_servable(problem: AllocationProblem, catalog: Catalog) -> None:
    """Every llm of the problem has a configuration on its GPU type (see
    :func:`servable_configurations`)."""
    for demand in problem.demands:
        servable_configurations(problem, catalog, demand.llm)

