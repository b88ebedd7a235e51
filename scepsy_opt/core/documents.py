"""The run directory's artifacts as typed documents (one :class:`~scepsy_opt.core.document.
Document` per file): ``workflow_stats.json`` (analyze), ``allocation.json`` (search),
``placement.json`` (place), ``plan.json`` (emit) and ``evaluation.json`` (the simulator's
comparison). Stages hand these to each other; a re-run reads them back with ``from_json``.

Each type mirrors its file key by key (see :mod:`scepsy_opt.core.document` for the rules), so
``to_json`` of a document read from a file gives that file's JSON back. Numbers a stage may
leave non-finite are ``float | None`` (JSON has no NaN). Sub-trees that no other stage reads
(the simulator's per-llm and per-member metrics, engine arguments) are :data:`Json`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scepsy_opt.core.catalog import unknown
from scepsy_opt.core.document import (
    Context,
    Document,
    Json,
    Record,
    flat,
    join_path,
    optional,
    optional_with,
)
from scepsy_opt.core.errors import ArtifactError, CatalogError
from scepsy_opt.core.types import TP_DEGREES, Allocation, Catalog, LlmAllocation

Num = float | None  # a number that may be missing (a non-finite value is written as null)
record = dataclass(frozen=True, kw_only=True)


def _check_tp(tp: int, path: str, ctx: Context) -> None:
    if tp not in TP_DEGREES:
        ctx.fail(join_path(path, "tp"), "not a tensor-parallel degree this planner uses", tp,
                 fix=f"use one of {', '.join(map(str, TP_DEGREES))}")


def _check_fraction(fraction: float, path: str, ctx: Context, key: str = "gpu_fraction"
                    ) -> None:
    if not 0 < fraction <= 1:
        ctx.fail(join_path(path, key), "a GPU fraction must be in (0, 1]", fraction,
                 fix="use a fraction such as 0.25, 0.5 or 1")


def _check_range(value: float, path: str, key: str, ctx: Context, *, low: float = 0.0,
                 what: str = "a number >= 0") -> None:
    if not (math.isfinite(value) and value >= low):
        ctx.fail(join_path(path, key), f"must be {what}", value,
                 fix=f"write {what}, or re-run the stage that writes the file")


# ----------------------------------------------------------------------- workflow_stats.json

@record
class SummaryRecord(Record):
    mean: Num
    std: Num
    cv: Num
    min: Num
    p1: Num
    p50: Num
    p90: Num
    p99: Num
    max: Num


@record
class LlmStatsRecord(Record):
    calls_per_request: SummaryRecord
    parallelism: Num
    critical_path_weight: Num
    n_over_p: Num
    critical_path_time_share: Num
    input_tokens: SummaryRecord
    output_tokens: SummaryRecord
    call_duration_s: SummaryRecord
    busy_s_per_request: Num
    share: Num
    share_cv: Num


@record
class StatsRecord(Record):
    """Statistics of one workflow (or of a mix's pooled requests), llms keyed by id."""

    source: str
    duration_model: str
    num_requests: int
    num_calls: int
    e2e_latency_s: SummaryRecord
    llm_busy_s_per_request: Num
    tool_s_on_critical_path_per_request: Num
    max_share_cv: Num
    weighted_share_cv: Num
    shares_stable: bool
    llms: dict[str, LlmStatsRecord]

    def check(self, path: str, ctx: Context) -> None:
        _check_range(self.num_requests, path, "num_requests", ctx, low=1,
                     what="an integer >= 1")
        _check_range(self.num_calls, path, "num_calls", ctx, what="an integer >= 0")


@record
class MemberStatsRecord(Record):
    weight: float
    rate_fraction: float
    workflow: str
    stats: StatsRecord = flat()


@record
class WorkEstimateRecord(Record):
    gpu: str
    tp: int
    method: str


@record
class WorkflowStatsDocument(Document):
    """``workflow_stats.json``: the combined statistics, then one entry per member workflow."""

    ARTIFACT = "workflow_stats.json"
    STAGE = "analyze"
    KIND = "workflow_stats"

    schema_version: int
    artifact: str
    workflow: str
    description: str | None
    kind: str
    seed: int | None
    stats: StatsRecord = flat()
    workflows: dict[str, MemberStatsRecord]
    work_estimate: dict[str, WorkEstimateRecord]


# --------------------------------------------------------------------------- allocation.json

@record
class MemoryRecord(Record):
    budget: float
    weights: float
    reserve: float
    kv_cache: float


@record
class LlmPredictionRecord(Record):
    utilization: Num
    capacity_rps: Num
    mean_call_latency_s: Num
    latency_contribution_s: Num
    latency_share: Num


@record
class LlmAllocationRecord(Record):
    tp: int
    replicas: int
    gpu_fraction: float
    gpus: float
    gpu: str
    memory_per_gpu_gib: MemoryRecord
    kv_capacity_tokens: int
    calls_per_request: Num
    predicted: LlmPredictionRecord

    def check(self, path: str, ctx: Context) -> None:
        _check_tp(self.tp, path, ctx)
        _check_range(self.replicas, path, "replicas", ctx, low=1, what="an integer >= 1")
        _check_fraction(self.gpu_fraction, path, ctx)


@record
class WorkflowPredictionRecord(Record):
    throughput_rps: Num
    latency_s: Num
    tool_latency_s: Num
    members: dict[str, Num]
    bottleneck: str


@record
class SearchStepRecord(Record):
    step: int
    phase: str
    move: str
    gpus: float
    latency_s: Num
    throughput_rps: Num
    elapsed_s: Num


@record
class SearchRecord(Record):
    method: str
    elapsed_s: float
    allocations_scored: int
    configurations: dict[str, tuple[tuple[int, float], ...]]  # llm -> (TP, gpu fraction)
    trace: tuple[SearchStepRecord, ...]
    refine: RefineRecord | None = optional()  # search.refine=simulate only


@record
class CandidateEntryRecord(Record):
    tp: int
    replicas: int
    gpu_fraction: float


@record
class PredictedScoreRecord(Record):
    latency_s: float
    throughput_rps: float


@record
class RefinedScoreRecord(Record):
    """The refining evaluator's score (null: it could not run the candidate, e.g. it does not
    place)."""

    latency_s: Num
    throughput_rps: Num
    sustains: bool


@record
class RefineCandidateRecord(Record):
    allocation: dict[str, CandidateEntryRecord]
    gpus: float
    predicted: PredictedScoreRecord
    refined: RefinedScoreRecord
    chosen: bool


@record
class RefineRecord(Record):
    """What ``search.refine`` did: every candidate (the search's choice first), which won."""

    method: str
    chosen: int
    changed: bool
    elapsed_s: float
    note: str
    candidates: tuple[RefineCandidateRecord, ...]


@record
class InstanceFitRecord(Record):
    key: str
    reused: bool
    errors_pct: dict[str, Num]


@record
class WorkflowFitRecord(Record):
    key: str
    reused: bool
    loss: Num
    errors_pct: dict[str, Num]
    calibration_runs: int


@record
class FitRecord(Record):
    elapsed_s: Num
    instances: dict[str, InstanceFitRecord]
    workflow: WorkflowFitRecord | None = optional()


@record
class AllocationDocument(Document):
    """``allocation.json``: per llm its configuration, memory and predicted load; the
    workflow's predictions; how the search found it; the fits it used."""

    ARTIFACT = "allocation.json"
    STAGE = "search"

    schema_version: int
    workflow: str
    cluster: str
    gpu: str
    cluster_gpus: int
    target_rate_rps: float
    utilization_cap: float
    gpus_used: float
    llms: dict[str, LlmAllocationRecord]
    predicted: WorkflowPredictionRecord
    search: SearchRecord
    fit: FitRecord | None = optional()

    def check(self, path: str, ctx: Context) -> None:
        if not self.llms:
            ctx.fail("llms", "the allocation has no llms", {},
                     fix="re-run the search stage, which allocates every llm of the workflow")

    def allocation(self, method: str = "planned", *, catalog: Catalog | None = None,
                   source: str = ARTIFACT) -> Allocation:
        """The allocation it records (what the place stage places); with ``catalog``, every
        llm and GPU must be one of it (``source``: the file, for the error)."""
        if catalog is not None:
            for llm, entry in self.llms.items():
                for kind, value, known, field in (
                        ("llm", llm, catalog.llms, f"llms.{llm}"),
                        ("GPU", entry.gpu, catalog.gpus, f"llms.{llm}.gpu")):
                    if value not in known:
                        raise _artifact(unknown(kind, value, sorted(known), source=source,
                                                field=field))
        return Allocation(method, tuple(
            LlmAllocation(llm, e.gpu, e.tp, e.replicas, float(e.gpu_fraction))
            for llm, e in self.llms.items()))


# ---------------------------------------------------------------------------- placement.json

def _artifact(error: CatalogError) -> ArtifactError:
    """A catalog look-up that failed for an artifact's value, as the artifact's error."""
    return ArtifactError(error.problem, source=error.source, field=error.field,
                         value=error.value, fix=error.fix)


@record
class InstanceRef(Record):
    llm: str
    replica: int

    def check(self, path: str, ctx: Context) -> None:
        _check_range(self.replica, path, "replica", ctx, what="an integer >= 0")


@record
class PlacedInstanceRecord(Record):
    llm: str
    replica: int
    node: str
    rack: str
    gpus: tuple[int, ...]
    tp: int
    gpu: str
    gpu_fraction: float
    compute_share: float
    memory_gib_per_gpu: float
    mechanism: str
    mig_profile: str | None

    def check(self, path: str, ctx: Context) -> None:
        _check_tp(self.tp, path, ctx)
        _check_range(self.replica, path, "replica", ctx, what="an integer >= 0")
        _check_fraction(self.gpu_fraction, path, ctx)
        _check_fraction(self.compute_share, path, ctx, "compute_share")
        if len(set(self.gpus)) != self.tp or min(self.gpus, default=0) < 0:
            ctx.fail(join_path(path, "gpus"), f"a TP group of {self.tp} needs {self.tp} "
                     f"distinct GPU indices of its node", list(self.gpus),
                     fix=f"list {self.tp} distinct GPU indices, or re-run the place stage")


@record
class GpuUseRecord(Record):
    node: str
    gpu: int
    occupants: tuple[InstanceRef, ...]
    compute_used: float
    memory_used_gib: float
    memory_gib: float
    fragmented: bool


@record
class NodeUseRecord(Record):
    node: str
    rack: str
    gpu: str
    tp_domains: tuple[tuple[int, ...], ...]
    excluded: bool
    gpus_used: int
    compute_free: float


@record
class SmallestInstanceRecord(Record):
    compute_share: Num
    memory_gib: Num


@record
class FragmentationRecord(Record):
    fragmented_gpus: int
    fragmented_free_capacity: float
    partially_used_gpus: int
    free_capacity_on_used_gpus: float
    smallest_instance: dict[str, SmallestInstanceRecord]  # by GPU type


@record
class PlacementMetricsRecord(Record):
    instances_placed: int
    instances_requested: int
    capacity_placed: float
    capacity_requested: float
    gpus_used: int
    nodes_used: int
    anti_affinity_excess: int
    topology_cost: float


@record
class ObjectiveRecord(Record):
    value: Num
    bound: Num
    gap: Num
    weights: dict[str, float]


@record
class AffinityRecord(Record):
    llms: tuple[str, str]
    weight: float

    def check(self, path: str, ctx: Context) -> None:
        if self.llms[0] == self.llms[1]:
            ctx.fail(join_path(path, "llms"), "an affinity links two different llms",
                     list(self.llms), fix="name two llms of the allocation")
        _check_range(self.weight, path, "weight", ctx)


@record
class IncumbentRecord(Record):
    """The heuristic placement the MILP started from, measured."""

    instances_placed: int
    instances_requested: int
    capacity_placed: float
    capacity_requested: float
    gpus_used: int
    nodes_used: int
    partially_used_gpus: int
    fragmented_gpus: int
    fragmented_free_capacity: float
    free_capacity_on_used_gpus: float
    anti_affinity_excess: int
    topology_cost: float
    objective: Num


@record
class SolveRecord(Record):
    model: str
    status: str
    termination: str
    objective: Num
    bound: Num
    gap: Num
    build_s: float
    solve_s: float
    variables: int
    constraints: int
    solver: str
    solver_version: str
    time_limit_s: Num
    mip_rel_gap: Num
    message: str
    start_accepted: bool | None


@record
class SolverRecord(Record):
    solves: tuple[SolveRecord, ...]
    elapsed_s: float


@record
class PlacementDocument(Document):
    """``placement.json``: instances on nodes and GPUs, every GPU and node with its use,
    fragmentation, the objective with its bound and gap, and how it was solved."""

    ARTIFACT = "placement.json"
    STAGE = "place"

    schema_version: int
    cluster: str
    source: str
    method: str
    status: str
    note: str
    mechanism: str
    anti_affinity: bool
    instances: tuple[PlacedInstanceRecord, ...]
    unplaced: tuple[InstanceRef, ...]
    gpus: tuple[GpuUseRecord, ...]
    nodes: tuple[NodeUseRecord, ...]
    fragmentation: FragmentationRecord
    metrics: PlacementMetricsRecord
    objective: ObjectiveRecord
    affinity: tuple[AffinityRecord, ...]
    heuristic_incumbent: IncumbentRecord | None
    solver: SolverRecord

    def affinity_weights(self, llms: Any = None, source: str = ARTIFACT
                         ) -> tuple[tuple[str, str, float], ...]:
        """The call affinity it was placed with, as the placement problem takes it; with
        ``llms`` (those being placed), every entry must link two of them."""
        for i, entry in enumerate(self.affinity):
            outside = [llm for llm in entry.llms if llms is not None and llm not in llms]
            if outside:
                raise ArtifactError("an affinity entry names an llm that is not placed",
                                    source=source, field=f"affinity[{i}].llms",
                                    value=list(entry.llms),
                                    fix=f"link two of {', '.join(sorted(llms))}, or remove "
                                        f"the entry")
        return tuple((a.llms[0], a.llms[1], float(a.weight)) for a in self.affinity)


# --------------------------------------------------------------------------------- plan.json

@record
class NodeGpusRecord(Record):
    node: str
    gpus: tuple[int, ...]


@record
class MpsRecord(Record):
    active_thread_percentage: int
    pinned_device_memory_mib: int


@record
class MigRecord(Record):
    profile: str
    ordinal: int | None


@record
class PlanInstanceRecord(Record):
    name: str
    llm: str
    replica: int
    hf_id: str | None
    task: str
    model: str
    gpu: str
    nodes: tuple[NodeGpusRecord, ...]
    tp: int
    pp: int
    gpu_fraction: float
    mechanism: str
    compute_share: float
    mps: MpsRecord | None
    mig: MigRecord | None
    memory_gib_per_gpu: float
    gpu_memory_utilization: float
    kv_capacity_tokens: int
    max_model_len_tokens: int
    port: int
    launch_order: int
    waits_for: tuple[str, ...]
    engine_args: dict[str, Json]
    env: dict[str, str]


@record
class PlanGpuRecord(Record):
    node: str
    gpu: int
    instances: tuple[str, ...]
    compute_used: float
    memory_utilization_used: float
    # shared fate (scepsy_opt.core.fault_domains): the instances a fault on the GPU takes
    # down and their fault domain (null: MIG slices only); absent in plans written before
    shared_fate: tuple[str, ...] | None = optional()
    fault_domain: int | None = optional_with("shared_fate")


@record
class GpuRefRecord(Record):
    node: str
    gpu: int


@record
class FaultDomainRecord(Record):
    id: int
    instances: tuple[str, ...]
    llms: tuple[str, ...]
    gpus: tuple[GpuRefRecord, ...]


@record
class FaultDomainsRecord(Record):
    """Every fault domain of the plan, the most instances one fault takes down, and the
    ``emit.mps.isolation`` groups the plan honours."""

    isolation: tuple[tuple[str, ...], ...]
    max_instances_per_fault: int
    domains: tuple[FaultDomainRecord, ...]


@record
class PlanDocument(Document):
    """``plan.json``: the canonical launch plan (``emit/schemas/plan.schema.json``)."""

    ARTIFACT = "plan.json"
    STAGE = "emit"

    schema_version: int
    workflow: str
    cluster: str
    source: str
    fraction_mechanism: str
    memory_headroom: float
    instances: tuple[PlanInstanceRecord, ...]
    gpus: tuple[PlanGpuRecord, ...]
    fault_domains: FaultDomainsRecord | None = optional()  # absent in plans written before


# --------------------------------------------------------------------------- evaluation.json

@record
class LlmShareRecord(Record):
    gpu: str
    tp: int
    replicas: int
    gpu_fraction: float
    gpus: float


@record
class InstancePlacementRecord(Record):
    llm: str
    replica: int
    node: str
    gpus: tuple[int, ...]
    gpu_fraction: float


@record
class SimulatedRecord(Record):
    """Simulated metrics of one plan at one rate."""

    offered_rate_rps: Num
    arrival_rate_rps: Num
    completed_throughput_rps: Num
    throughput_ratio: Num
    measured_requests: int
    completed_fraction: Num
    e2e_latency_s: SummaryRecord
    latency_mean_ci95_s: Num
    latency_growth: Num
    littles_law_error: Num
    simulated_s: Num
    events: int
    preempted_calls: int
    rejected_calls: int
    llms: dict[str, Json]
    members: tuple[Json, ...]


@record
class ProbeRecord(Record):
    rate_rps: Num
    throughput_rps: Num
    mean_latency_s: Num
    p99_latency_s: Num
    sustained: bool
    span_latency_s: Num


@record
class PlanEvaluationRecord(Record):
    """One plan or baseline: its error, or its allocation, placement and simulated metrics."""

    error: str | None = optional()
    allocation: dict[str, LlmShareRecord] | None = optional()
    gpus: Num = optional_with("allocation")
    note: str | None = optional_with("allocation")
    placement: tuple[InstancePlacementRecord, ...] | None = optional()
    at_target: SimulatedRecord | None = optional()
    max_sustainable_rate_rps: Num = optional_with("at_target")
    probes: tuple[ProbeRecord, ...] | None = optional_with("at_target")


@record
class EvaluationDocument(Document):
    """``evaluation.json``: the plan and the baselines simulated, keyed by plan name."""

    ARTIFACT = "evaluation.json"
    STAGE = "evaluate"
    KIND = "evaluation"

    schema_version: int
    artifact: str
    workflow: str
    cluster: str
    gpu: str
    target_rate_rps: float
    plans: dict[str, PlanEvaluationRecord]


DOCUMENTS: dict[str, type[Document]] = {d.ARTIFACT: d for d in (
    WorkflowStatsDocument, AllocationDocument, PlacementDocument, PlanDocument,
    EvaluationDocument)}
