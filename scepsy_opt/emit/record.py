"""One record per instance: what every manifest format is rendered from.

:func:`planned_instances` reads a place-stage result (or :func:`instances_from_json` a
``placement.json``) into :class:`PlannedInstance` values; :func:`check_plan` re-checks them
across the stacks (the cluster, the GPU type's MIG profiles, the fraction mechanism) and
:func:`launch_plan` turns them into :class:`InstanceRecord` values: the llm and what vLLM loads,
the engine arguments (long ``vllm serve`` option names), the node and GPU ids, how the GPU
fraction is enforced and with which amounts, the port, the start order on the node and the
environment. Every function here is pure.

Memory: each instance's ``gpu-memory-utilization`` is its GPU share times ``1 - headroom``
(a MIG instance's device is its slice, so its share there is 1). With the default headroom
``1 - profile.memory.memory_utilization`` this is the budget the plan sized the KV cache with
(:func:`scepsy_opt.core.memory.memory_plan`); the record keeps that plan's numbers, and a
headroom that leaves no room for the weights, the reserve and the minimum KV cache is refused.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from scepsy_opt.core.constants import TOLERANCE
from scepsy_opt.core.errors import EmitError
from scepsy_opt.core.fault_domains import (
    ISOLATION_SETTING,
    Groups,
    describe_groups,
    isolation_conflicts,
    isolation_pairs,
    unknown_llms,
)
from scepsy_opt.core.feasibility import exceeds, in_one_tp_domain
from scepsy_opt.core.memory import MemorySettings, memory_plan
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.topology import tp_domains
from scepsy_opt.core.types import Catalog, ClusterSpec, GpuSpec, MigProfile, NodeSpec
from scepsy_opt.emit.settings import EmitSettings

# gpu-memory-utilization is written rounded (to 4 decimals), so it is read back within this
ROUNDING = 1e-6
MIB_PER_GIB = 1024
# Keys the plan sets: extra arguments may not override them.
PLANNED_KEYS = ("model", "served-model-name", "host", "port", "tensor-parallel-size",
                "pipeline-parallel-size", "distributed-executor-backend",
                "gpu-memory-utilization", "max-num-seqs", "max-num-batched-tokens",
                "max-model-len", "runner", "hf-overrides")
POOLING_TASKS = ("score", "reward")
WHOLE, MPS, MIG = "whole", "mps", "mig"


@dataclass(frozen=True)
class PlannedInstance:
    """One placed instance (replica ``replica`` of ``llm``) as the place stage reports it.

    ``gpus`` are indices on ``node``; ``memory_gib_per_gpu`` is the planned memory budget per
    GPU; ``mechanism`` is the placement's fraction mechanism and ``mig_profile`` the MIG profile
    of a fractional instance under MIG. ``stages`` lists further nodes of a group that spans
    nodes (pipeline stages of ``tp`` GPUs each); the place stage keeps groups on one node.
    """

    llm: str
    replica: int
    node: str
    gpus: tuple[int, ...]
    tp: int
    gpu: str
    gpu_fraction: float
    compute_share: float
    memory_gib_per_gpu: float
    mechanism: str = "mps"
    mig_profile: str | None = None
    stages: tuple[tuple[str, tuple[int, ...]], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.llm}-{self.replica}"

    @property
    def whole(self) -> bool:
        return self.gpu_fraction >= 1 - TOLERANCE

    @property
    def groups(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """(node, GPU ids) of every pipeline stage, the first one first."""
        return ((self.node, self.gpus), *self.stages)


@dataclass(frozen=True)
class GroupNode:
    """The GPUs one pipeline stage of an instance takes on one node."""

    node: str
    gpus: tuple[int, ...]


@dataclass(frozen=True)
class InstanceRecord:
    """Everything a manifest needs to launch one instance.

    ``mechanism``: ``whole`` (whole GPUs), ``mps`` (a compute share of
    ``mps_active_thread_percentage`` percent and ``mps_pinned_memory_mib`` of device memory per
    GPU) or ``mig`` (one ``mig_profile`` slice, ``mig_ordinal``-th of that profile on its GPU).
    ``engine_args``: ``vllm serve`` long option names and values, in config order.
    ``env``: the launch environment. ``launch_order``: position in the node's one-by-one start;
    ``waits_for``: earlier instances of the node that share a GPU with it.
    """

    name: str
    llm: str
    replica: int
    hf_id: str
    task: str
    model: str
    gpu: str
    nodes: tuple[GroupNode, ...]
    tp: int
    gpu_fraction: float
    mechanism: str
    compute_share: float
    mps_active_thread_percentage: int | None
    mps_pinned_memory_mib: int | None
    mig_profile: str | None
    mig_ordinal: int | None
    memory_gib_per_gpu: float
    gpu_memory_utilization: float
    kv_capacity_tokens: int
    max_model_len_tokens: int
    port: int
    launch_order: int
    waits_for: tuple[str, ...]
    engine_args: tuple[tuple[str, Any], ...]
    env: tuple[tuple[str, str], ...]
    # the GPUs of the instance's (first) node and its TP domains, for formats that leave the
    # choice of GPUs to a scheduler (Ray)
    node_gpus: int = 0
    node_tp_domains: tuple[tuple[int, ...], ...] = ()

    @property
    def node(self) -> str:
        return self.nodes[0].node

    @property
    def gpus(self) -> tuple[int, ...]:
        return self.nodes[0].gpus

    @property
    def pp(self) -> int:
        return len(self.nodes)

    @property
    def spans_nodes(self) -> bool:
        return len(self.nodes) > 1

    def arg(self, key: str) -> Any:
        return dict(self.engine_args)[key]


@dataclass(frozen=True)
class LaunchPlan:
    """The records of a plan, with what the renderers need beside them."""

    workflow: str
    cluster: str
    source: str
    mechanism: str
    records: tuple[InstanceRecord, ...]
    settings: EmitSettings
    memory_headroom: float

    def record(self, name: str) -> InstanceRecord:
        for r in self.records:
            if r.name == name:
                return r
        raise KeyError(name)

    @property
    def nodes(self) -> tuple[str, ...]:
        """Nodes with at least one instance, in record order."""
        return tuple(dict.fromkeys(g.node for r in self.records for g in r.nodes))

    @property
    def llms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.llm for r in self.records))


# ----------------------------------------------------------------------------- inputs

def planned_instances(result) -> tuple[PlannedInstance, ...]:
    """The instances of a :class:`~scepsy_opt.placement.stage.PlacementResult`."""
    classes = {c.llm: c for c in result.problem.classes}
    out = []
    for inst in result.placement.instances:
        c = classes[inst.llm]
        out.append(PlannedInstance(
            llm=inst.llm, replica=inst.replica, node=inst.node, gpus=tuple(inst.gpus),
            tp=c.tp, gpu=c.gpu, gpu_fraction=inst.gpu_fraction, compute_share=c.compute_share,
            memory_gib_per_gpu=c.memory_gib, mechanism=result.problem.mechanism,
            mig_profile=c.mig_profile))
    return tuple(out)


_FIELDS = {"llm": str, "replica": int, "node": str, "gpus": list, "tp": int, "gpu": str,
           "gpu_fraction": (int, float), "compute_share": (int, float),
           "memory_gib_per_gpu": (int, float), "mechanism": str}


def instances_from_json(document: Any, source: str) -> tuple[PlannedInstance, ...]:
    """The instances of a ``placement.json`` document (errors name the file and the field)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("instances"), list):
        raise EmitError("not a placement.json document: no 'instances' list", source=source,
                        fix="point emit.placement at the placement.json a run wrote")
    out = []
    for i, entry in enumerate(document["instances"]):
        where = f"instances[{i}]"
        if not isinstance(entry, Mapping):
            raise EmitError("expected a mapping", source=source, field=where, value=entry,
                            fix="restore the instance entry as placement.json writes it")
        for key, kind in _FIELDS.items():
            value = entry.get(key)
            if value is None or isinstance(value, bool) or not isinstance(value, kind):
                raise EmitError("missing or of the wrong type", source=source,
                                field=f"{where}.{key}", value=value,
                                fix="restore the field as placement.json writes it")
        if not all(isinstance(g, int) and not isinstance(g, bool) for g in entry["gpus"]):
            raise EmitError("GPU ids must be integers", source=source, field=f"{where}.gpus",
                            value=entry["gpus"], fix="list GPU indices of the node, e.g. [0, 1]")
        out.append(PlannedInstance(
            llm=entry["llm"], replica=entry["replica"], node=entry["node"],
            gpus=tuple(entry["gpus"]), tp=entry["tp"], gpu=entry["gpu"],
            gpu_fraction=float(entry["gpu_fraction"]),
            compute_share=float(entry["compute_share"]),
            memory_gib_per_gpu=float(entry["memory_gib_per_gpu"]),
            mechanism=entry["mechanism"], mig_profile=entry.get("mig_profile")))
    if not out:
        raise EmitError("the placement has no instances", source=source, field="instances",
                        fix="emit from a placement that placed at least one instance")
    return tuple(out)


# ----------------------------------------------------------------------------- checks

def _mig(gpu: GpuSpec, name: str | None) -> MigProfile | None:
    return next((p for p in gpu.mig_profiles if p.name == name), None)


_FIX_PLAN = ("plan again (drop emit.placement), or edit the placement so that it satisfies "
             "the rule")


def _check_fields(inst: PlannedInstance, field: str, catalog: Catalog, *, source: str) -> None:
    """The instance's own values: a catalog llm and GPU type, a fraction in (0, 1], a TP degree
    of at least 1, whole GPUs for a group that spans nodes."""
    if inst.llm not in catalog.llms:
        raise EmitError("unknown llm", source=source, field=f"{field}.llm", value=inst.llm,
                        fix=f"use an llm of the catalog: {', '.join(sorted(catalog.llms))}")
    if inst.gpu not in catalog.gpus:
        raise EmitError("unknown GPU type", source=source, field=f"{field}.gpu",
                        value=inst.gpu, fix="use a GPU type of models/gpus/")
    if not 0 < inst.gpu_fraction or exceeds(inst.gpu_fraction, 1.0) or not math.isfinite(
            inst.gpu_fraction):
        raise EmitError("the GPU fraction must be in (0, 1]", source=source,
                        field=f"{field}.gpu_fraction", value=inst.gpu_fraction,
                        fix="use a fraction such as 0.25, 0.5 or 1")
    if inst.tp < 1:
        raise EmitError("the TP degree must be at least 1", source=source,
                        field=f"{field}.tp", value=inst.tp, fix="use 1, 2, 4 or 8")
    if inst.stages and not inst.whole:
        raise EmitError("a group that spans nodes must use whole GPUs", source=source,
                        field=f"{field}.gpu_fraction", value=inst.gpu_fraction,
                        fix="give multi-node groups whole GPUs")


def _check_groups(inst: PlannedInstance, field: str, cluster: ClusterSpec,
                  nodes: Mapping[str, NodeSpec], *, source: str) -> None:
    """Each of the instance's groups: an existing node of its GPU type, ``tp`` distinct GPUs
    of that node inside one TP domain."""
    for node_id, gpus in inst.groups:
        node = nodes.get(node_id)
        if node is None:
            raise EmitError(f"unknown node of cluster '{cluster.name}'", source=source,
                            field=f"{field}.node", value=node_id,
                            fix=f"use one of {', '.join(sorted(nodes)[:8])}")
        if node.gpu != inst.gpu:
            raise EmitError(f"node {node_id} has {node.gpu} GPUs, not {inst.gpu}",
                            source=source, field=f"{field}.gpu", value=inst.gpu,
                            fix=f"place the instance on a node of {inst.gpu} GPUs")
        if len(gpus) != inst.tp or len(set(gpus)) != inst.tp:
            raise EmitError(f"a TP group of {inst.tp} needs {inst.tp} distinct GPUs of one "
                            "node", source=source, field=f"{field}.gpus", value=list(gpus),
                            fix=f"list {inst.tp} distinct GPU ids of node {node_id}")
        if any(not 0 <= g < node.num_gpus for g in gpus):
            raise EmitError(f"GPU ids outside node {node_id} (0..{node.num_gpus - 1})",
                            source=source, field=f"{field}.gpus", value=list(gpus),
                            fix=f"use GPU ids 0..{node.num_gpus - 1}")
        if not in_one_tp_domain(node, gpus):
            raise EmitError(f"the TP group's GPUs are not in one NVLink domain of node "
                            f"{node_id} {[list(d) for d in tp_domains(node)]}",
                            source=source, field=f"{field}.gpus", value=list(gpus),
                            fix="keep a TP group inside one NVLink domain")


def _check_mechanism(inst: PlannedInstance, field: str, mechanism: str, *,
                     source: str) -> None:
    """A fraction below 1 is enforced by a known mechanism, the plan's."""
    if not inst.whole and inst.mechanism not in (MPS, MIG):
        raise EmitError("unknown fraction mechanism", source=source,
                        field=f"{field}.mechanism", value=inst.mechanism,
                        fix="use mps or mig")
    if not inst.whole and inst.mechanism != mechanism:
        raise EmitError("the placement enforces GPU fractions differently from the emit "
                        "settings", source=source, field=f"{field}.mechanism",
                        value=inst.mechanism,
                        fix=f"set emit.fraction_mechanism={inst.mechanism}, or place "
                            f"again with {mechanism}")


def _gpu_share(inst: PlannedInstance, field: str, gpu: GpuSpec, mechanism: str, *,
               source: str) -> tuple[float, float, MigProfile | None]:
    """What the instance takes of each of its GPUs: (compute share, memory GiB, MIG profile
    under MIG, else None); a MIG instance needs a profile of the GPU type and no TP group."""
    if inst.whole:
        return 1.0, inst.memory_gib_per_gpu, None
    if mechanism != MIG:
        return inst.gpu_fraction, inst.memory_gib_per_gpu, None
    profile = _mig(gpu, inst.mig_profile)
    if profile is None:
        raise EmitError(f"a fractional instance under MIG needs a MIG profile of "
                        f"{gpu.id}", source=source, field=f"{field}.mig_profile",
                        value=inst.mig_profile,
                        fix=f"use one of {[p.name for p in gpu.mig_profiles]} or "
                            "fraction_mechanism=mps")
    if inst.tp > 1:
        raise EmitError("a TP group cannot use MIG slices (MIG has no peer-to-peer "
                        "path)", source=source, field=field, value=inst.tp,
                        fix="use whole GPUs or fraction_mechanism=mps for TP groups")
    return profile.compute_fraction, profile.memory_gib, profile


def _check_gpu_totals(compute: Mapping[tuple[str, int], list[tuple[str, float]]],
                      memory: Mapping[tuple[str, int], float],
                      nodes: Mapping[str, NodeSpec], catalog: Catalog, *, source: str) -> None:
    """Per GPU: compute fractions sum to at most 1, memory budgets to at most its memory."""
    for (node_id, g), shares in compute.items():
        total = sum(s for _, s in shares)
        if exceeds(total, 1.0):
            parts = " + ".join(f"{name} {s:g}" for name, s in shares)
            raise EmitError(f"GPU {g} of node {node_id} is over-committed: the GPU fractions "
                            f"of its instances sum to {total:g} > 1 ({parts})", source=source,
                            field="instances", value=round(total, 6), fix=_FIX_PLAN)
        gpu = catalog.gpus[nodes[node_id].gpu]
        if exceeds(memory[(node_id, g)], gpu.memory_gib):
            raise EmitError(f"GPU {g} of node {node_id} is over-committed: memory budgets sum "
                            f"to {memory[(node_id, g)]:.1f} GiB > {gpu.memory_gib:g} GiB",
                            source=source, field="instances",
                            value=round(memory[(node_id, g)], 3), fix=_FIX_PLAN)


def _check_mig_slices(slices: Mapping[tuple[str, int], list[MigProfile]], *,
                      source: str) -> None:
    """Per GPU: MIG slices within the GPU's slices and each profile's instance limit."""
    for (node_id, g), profiles in slices.items():
        used = sum(p.compute_slices for p in profiles)
        total_slices = profiles[0].total_slices
        if used > total_slices:
            raise EmitError(f"GPU {g} of node {node_id}: MIG slices {used} > {total_slices}",
                            source=source, field="instances", value=used, fix=_FIX_PLAN)
        for profile in {p.name: p for p in profiles}.values():
            count = sum(1 for p in profiles if p.name == profile.name)
            if count > profile.max_instances:
                raise EmitError(f"GPU {g} of node {node_id}: {count} MIG {profile.name} "
                                f"instances > {profile.max_instances}", source=source,
                                field="instances", value=count, fix=_FIX_PLAN)


def _check_isolation(instances: Sequence[PlannedInstance], isolation: Groups, *,
                     source: str) -> None:
    """The isolation groups name llms of the plan, and no GPU hosts two llms they keep
    apart (:mod:`scepsy_opt.core.fault_domains`)."""
    llms = list(dict.fromkeys(inst.llm for inst in instances))
    unknown = unknown_llms(isolation, llms)
    if unknown:
        raise EmitError(f"the isolation names llms that the plan does not have: "
                        f"{', '.join(unknown)}", source="config", field=ISOLATION_SETTING,
                        value=unknown, fix=f"name llms of the plan: {', '.join(sorted(llms))}")
    hosted: dict[tuple[str, int], list[str]] = defaultdict(list)
    for inst in instances:
        for node_id, gpus in inst.groups:
            for g in gpus:
                hosted[(node_id, g)].append(inst.llm)
    for (node_id, g), a, b in isolation_conflicts(isolation_pairs(isolation, llms), hosted):
        raise EmitError(f"GPU {g} of node {node_id} hosts {a} and {b}, which "
                        f"{ISOLATION_SETTING} {describe_groups(isolation)} keeps apart",
                        source=source, field="instances", value=[a, b],
                        fix=f"plan again (drop emit.placement: the place stage keeps them "
                            f"apart), edit the placement so that no GPU hosts both, or drop "
                            f"the group from {ISOLATION_SETTING}")


def check_plan(instances: Sequence[PlannedInstance], cluster: ClusterSpec, catalog: Catalog,
               mechanism: str, *, source: str, isolation: Groups = ()) -> None:
    """Cross-stack consistency of a placed plan; :class:`EmitError` names the first broken rule.

    Every instance: a catalog llm on an existing node of its GPU type, ``tp`` distinct GPUs of
    that node inside one TP domain (NVLink domain, or the whole node without NVLink), a fraction
    in (0, 1], equal on every GPU of the group; a fraction below 1 enforced by the plan's
    mechanism (MIG: one profile of the GPU type, no TP group). Every GPU: compute fractions sum
    to at most 1, memory budgets to at most its memory, MIG slices within the GPU's slices and
    each profile's instance limit. No (llm, replica) twice. No GPU hosts two llms that
    ``isolation`` (``emit.mps.isolation``) keeps apart.
    """
    nodes = {n.id: n for n in cluster.nodes}
    seen: set[tuple[str, int]] = set()
    compute: dict[tuple[str, int], list[tuple[str, float]]] = defaultdict(list)
    memory: dict[tuple[str, int], float] = defaultdict(float)
    slices: dict[tuple[str, int], list[MigProfile]] = defaultdict(list)
    for i, inst in enumerate(instances):
        field = f"instances[{i}] ({inst.name})"
        if (inst.llm, inst.replica) in seen:
            raise EmitError("the instance is listed twice", source=source, field=field,
                            value=inst.name, fix="give every replica its own index")
        seen.add((inst.llm, inst.replica))
        _check_fields(inst, field, catalog, source=source)
        _check_groups(inst, field, cluster, nodes, source=source)
        _check_mechanism(inst, field, mechanism, source=source)
        share, mem, profile = _gpu_share(inst, field, catalog.gpus[inst.gpu], mechanism,
                                         source=source)
        if profile is not None:
            slices[(inst.node, inst.gpus[0])].append(profile)
        for node_id, gpus in inst.groups:
            for g in gpus:
                compute[(node_id, g)].append((inst.name, share))
                memory[(node_id, g)] += mem
    _check_gpu_totals(compute, memory, nodes, catalog, source=source)
    _check_mig_slices(slices, source=source)
    _check_isolation(instances, isolation, source=source)


# ----------------------------------------------------------------------------- records

def _model_source(llm, settings: EmitSettings) -> str:
    root = settings.vllm.model_root
    if root is None:
        if "/" not in llm.hf_id or " " in llm.hf_id:
            raise EmitError(f"llm {llm.id} has no Hugging Face id to load ({llm.hf_id!r})",
                            source="config", field="emit.vllm.model_root", value=root,
                            fix="set emit.vllm.model_root=catalog (dummy weights from the "
                                "catalog's config.json) or to a folder holding <llm>/ folders")
        return llm.hf_id
    if root == "catalog":
        return str(data_dir("models") / llm.id)
    return f"{root.rstrip('/')}/{llm.id}"


def _max_model_len(llm, kv_capacity: int, context_tokens: int, override: int | None) -> int:
    limit = min(llm.max_context_tokens, kv_capacity)
    if override is not None:
        return min(override, limit)
    if context_tokens > 0:
        return min(limit, max(context_tokens, -(-context_tokens // 1024) * 1024))
    return limit


def _memory_check(inst: PlannedInstance, llm, gpu: GpuSpec, headroom: float,
                  memory: MemorySettings, source: str):
    """The memory plan of the emitted budget (``share x (1 - headroom)`` of the device)."""
    settings = replace(memory, memory_utilization=1 - headroom)
    if not inst.whole and inst.mechanism == MIG:
        profile = _mig(gpu, inst.mig_profile)
        device = replace(gpu, memory_gib=profile.memory_gib)  # type: ignore[union-attr]
        plan = memory_plan(llm, device, inst.tp, 1.0, settings)
    else:
        plan = memory_plan(llm, gpu, inst.tp, min(1.0, inst.gpu_fraction), settings)
    if not plan.feasible:
        raise EmitError(f"{inst.name} does not fit its emitted memory budget: {plan.reason}",
                        source=source, field="emit.vllm.memory_headroom", value=headroom,
                        fix="lower emit.vllm.memory_headroom, or plan with a larger fraction")
    return plan


def _memory_headroom(settings: EmitSettings, memory: MemorySettings) -> float:
    """The emitted memory headroom: the setting, else what the plan's memory settings leave."""
    vllm = settings.vllm
    return vllm.memory_headroom if vllm.memory_headroom is not None else \
        1 - memory.memory_utilization


def _check_extra_args(settings: EmitSettings) -> None:
    """Extra vLLM arguments may not override what the plan sets (:data:`PLANNED_KEYS`)."""
    taken = [key for key, _ in settings.vllm.extra_args if key in PLANNED_KEYS]
    if taken:
        raise EmitError("extra vLLM arguments may not set what the plan sets", source="config",
                        field="emit.vllm.extra_args", value=taken,
                        fix=f"remove {', '.join(taken)}: the plan sets them (an llm's "
                            "hf-overrides come from serving: in its models/<llm>/spec.yaml)")


def _launch_order(instances: Sequence[PlannedInstance], cluster: ClusterSpec
                  ) -> list[PlannedInstance]:
    """The instances in start order: by node (cluster order), lowest GPU, llm (first
    appearance) and replica."""
    order = {n.id: i for i, n in enumerate(cluster.nodes)}
    llm_order = {llm: i for i, llm in enumerate(dict.fromkeys(i.llm for i in instances))}
    return sorted(instances, key=lambda i: (order[i.node], min(i.gpus), llm_order[i.llm],
                                            i.replica))


def _engine_args(inst: PlannedInstance, llm, settings: EmitSettings, memory: MemorySettings,
                 *, port: int, utilization: float, max_len: int) -> list[tuple[str, Any]]:
    """The ``vllm serve`` options of one instance, in config order: what the plan sets (with
    the catalog's serving overrides, ``hf-overrides``), then the extra arguments. Every
    format renders these, so each writes the overrides."""
    vllm = settings.vllm
    args: list[tuple[str, Any]] = [
        ("model", _model_source(llm, settings)),
        ("served-model-name", inst.llm),
        ("host", vllm.host),
        ("port", port),
        ("tensor-parallel-size", inst.tp),
    ]
    if inst.stages:
        args += [("pipeline-parallel-size", len(inst.groups)),
                 ("distributed-executor-backend", "ray")]
    args += [
        ("gpu-memory-utilization", utilization),
        ("max-num-seqs", memory.max_num_seqs),
        ("max-num-batched-tokens", memory.max_num_batched_tokens),
        ("max-model-len", max_len),
    ]
    if llm.task in POOLING_TASKS:
        args.append(("runner", "pooling"))
    if llm.serving.hf_overrides:  # what the checkpoint needs to be served as its task
        args.append(("hf-overrides", llm.serving.hf_overrides))
    args += list(vllm.extra_args)
    return args


def mps_memory_limit(devices, mib: int | None) -> str:
    """``CUDA_MPS_PINNED_DEVICE_MEM_LIMIT``: ``mib`` MiB on each of ``devices``, indexed as the
    process sees them (after ``CUDA_VISIBLE_DEVICES``)."""
    return ",".join(f"{k}={mib}M" for k in devices)


def _device_env(inst: PlannedInstance, gpu: GpuSpec, mechanism: str
                ) -> tuple[list[tuple[str, str]], int | None, int | None]:
    """How the instance's GPUs are enforced in its environment: ``(env, MPS active thread
    percentage, MPS pinned memory MiB)``; the visible devices unless under MIG, the MPS limits
    under MPS (the MPS numbers are None otherwise)."""
    env: list[tuple[str, str]] = []
    threads = pinned = None
    if mechanism != MIG:
        env.append(("CUDA_VISIBLE_DEVICES", ",".join(str(g) for g in inst.gpus)))
    if mechanism == MPS:
        threads = max(1, min(100, round(100 * inst.compute_share)))
        pinned = int(math.floor(inst.gpu_fraction * gpu.memory_gib * MIB_PER_GIB))
        env.append(("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE", str(threads)))
        # CUDA_VISIBLE_DEVICES lists the group's GPUs: the process sees them as 0 .. tp - 1
        env.append(("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT", mps_memory_limit(range(inst.tp),
                                                                         pinned)))
    return env, threads, pinned


def launch_plan(instances: Sequence[PlannedInstance], cluster: ClusterSpec, catalog: Catalog,
                memory: MemorySettings, settings: EmitSettings, *, workflow: str,
                source: str, context_tokens: Mapping[str, int] | None = None) -> LaunchPlan:
    """Check ``instances`` (:func:`check_plan`) and build their records.

    ``context_tokens``: per llm the longest call of the workflow (prompt plus output); an
    instance's ``max-model-len`` covers it (rounded up to a multiple of 1024) within the llm's
    context and the KV capacity; without it, the largest length both allow.
    """
    check_plan(instances, cluster, catalog, settings.fraction_mechanism, source=source,
               isolation=settings.mps.isolation)
    vllm = settings.vllm
    headroom = _memory_headroom(settings, memory)
    _check_extra_args(settings)
    position: dict[str, int] = defaultdict(int)
    earlier: dict[str, list[PlannedInstance]] = defaultdict(list)
    mig_seen: dict[tuple[str, int, str], int] = defaultdict(int)
    nodes = {n.id: n for n in cluster.nodes}
    records = []
    for inst in _launch_order(instances, cluster):
        llm = catalog.llms[inst.llm]
        gpu = catalog.gpus[inst.gpu]
        plan = _memory_check(inst, llm, gpu, headroom, memory, source)
        mechanism = WHOLE if inst.whole else (MIG if inst.mechanism == MIG else MPS)
        share = 1.0 if mechanism in (WHOLE, MIG) else inst.gpu_fraction
        utilization = math.floor(share * (1 - headroom) * 10_000) / 10_000
        max_len = _max_model_len(llm, plan.kv_capacity_tokens,
                                 (context_tokens or {}).get(inst.llm, 0),
                                 vllm.max_model_len_tokens)
        port = vllm.base_port + position[inst.node]
        args = _engine_args(inst, llm, settings, memory, port=port, utilization=utilization,
                            max_len=max_len)
        ordinal = None
        if mechanism == MIG:
            key = (inst.node, inst.gpus[0], inst.mig_profile or "")
            ordinal = mig_seen[key]
            mig_seen[key] += 1
        env, threads, pinned = _device_env(inst, gpu, mechanism)
        env += list(vllm.env)
        shared = set(inst.gpus)
        waits = tuple(e.name for e in earlier[inst.node] if shared & set(e.gpus))
        records.append(InstanceRecord(
            name=inst.name, llm=inst.llm, replica=inst.replica, hf_id=llm.hf_id,
            task=llm.task, model=dict(args)["model"], gpu=inst.gpu,
            nodes=tuple(GroupNode(n, tuple(g)) for n, g in inst.groups), tp=inst.tp,
            gpu_fraction=inst.gpu_fraction, mechanism=mechanism,
            compute_share=1.0 if mechanism == WHOLE else inst.compute_share,
            mps_active_thread_percentage=threads, mps_pinned_memory_mib=pinned,
            mig_profile=inst.mig_profile if mechanism == MIG else None, mig_ordinal=ordinal,
            memory_gib_per_gpu=inst.memory_gib_per_gpu, gpu_memory_utilization=utilization,
            kv_capacity_tokens=plan.kv_capacity_tokens, max_model_len_tokens=max_len,
            port=port, launch_order=position[inst.node], waits_for=waits,
            engine_args=tuple(args), env=tuple(env), node_gpus=nodes[inst.node].num_gpus,
            node_tp_domains=tp_domains(nodes[inst.node])))
        position[inst.node] += 1
        earlier[inst.node].append(inst)
    result = LaunchPlan(workflow=workflow, cluster=cluster.name, source=source,
                        mechanism=settings.fraction_mechanism, records=tuple(records),
                        settings=settings, memory_headroom=headroom)
    check_records(result)
    return result


def check_records(plan: LaunchPlan) -> None:
    """The records agree with each other: memory utilisation matches the fraction (and sums to
    at most 1 on a GPU), ports and names are unique on a node, a TP group's GPUs are equal."""
    names: set[str] = set()
    ports: set[tuple[str, int]] = set()
    used: dict[tuple[str, int], float] = defaultdict(float)
    for r in plan.records:
        if r.name in names:
            raise EmitError("two instances share a name", source=plan.source, value=r.name,
                            fix="give every replica its own index")
        names.add(r.name)
        if (r.node, r.port) in ports:
            raise EmitError(f"two instances on node {r.node} share port {r.port}",
                            source=plan.source, field="emit.vllm.base_port", value=r.port,
                            fix="use distinct ports")
        ports.add((r.node, r.port))
        expected = (r.gpu_fraction if r.mechanism == MPS else 1.0) * (1 - plan.memory_headroom)
        if not (0 < r.gpu_memory_utilization <= expected + ROUNDING
                and expected - r.gpu_memory_utilization < 1e-3):
            raise EmitError(f"{r.name}: gpu-memory-utilization {r.gpu_memory_utilization} does "
                            f"not match its GPU fraction {r.gpu_fraction:g} (expected "
                            f"{expected:.4f})", source=plan.source,
                            field="gpu-memory-utilization", value=r.gpu_memory_utilization,
                            fix="emit again from the plan")
        if r.arg("tensor-parallel-size") != r.tp or r.arg("gpu-memory-utilization") != \
                r.gpu_memory_utilization:
            raise EmitError(f"{r.name}: engine arguments disagree with the record",
                            source=plan.source, fix="emit again from the plan")
        if r.mechanism == MPS:
            for g in r.gpus:
                used[(r.node, g)] += r.gpu_memory_utilization
    for (node, g), total in used.items():
        if exceeds(total, 1.0):
            raise EmitError(f"GPU {g} of node {node}: gpu-memory-utilization of its instances "
                            f"sums to {total:.4f} > 1", source=plan.source,
                            field="gpu-memory-utilization", value=round(total, 4),
                            fix="plan again with smaller fractions")
