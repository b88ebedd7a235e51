"""From an allocation and its placement to the instances the simulator runs.

Every instance gets the iteration model of its (llm, GPU type, TP degree, GPU fraction): the
calibrated roofline, or, when a profile table measured or imported for that llm and GPU type is
given, interpolation of that table; the KV capacity of the memory model; and the physical GPUs
it was placed on, so that instances placed on one GPU share its bandwidth in the simulation.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from scepsy_opt.core.contention import contention_params
from scepsy_opt.core.memory import MemorySettings, memory_plan
from scepsy_opt.core.profile_table import ProfileError, ProfileTable
from scepsy_opt.core.roofline import Arch, Hardware, roofline_params
from scepsy_opt.core.types import Allocation, Catalog, GpuSpec, LlmSpec, Placement
from scepsy_opt.sim.iteration import (
    IterationModel,
    RooflineIterationModel,
    TableIterationModel,
)
from scepsy_opt.sim.simulator import InstanceSpec


@functools.lru_cache(maxsize=512)
def roofline_iteration_model(llm: LlmSpec, gpu: GpuSpec, tp: int, fraction: float,
                             memory: MemorySettings) -> RooflineIterationModel:
    return RooflineIterationModel(Arch.of(llm), Hardware.of(gpu), roofline_params(gpu.id), tp,
                                  fraction, max_tokens=memory.max_num_batched_tokens
                                  + memory.max_num_seqs,
                                  max_sampled=memory.max_num_seqs + memory.max_num_batched_tokens)


def iteration_model(llm: LlmSpec, gpu: GpuSpec, tp: int, fraction: float,
                    memory: MemorySettings, profile: ProfileTable | None = None
                    ) -> IterationModel:
    """The table's model when a non-roofline profile is given, else the roofline."""
    roofline = roofline_iteration_model(llm, gpu, tp, fraction, memory)
    if profile is not None and profile.backend != "roofline":
        return TableIterationModel.from_table(profile, tp, fraction, split=roofline)
    return roofline


def instance_specs(allocation: Allocation, placement: Placement, catalog: Catalog,
                   memory: MemorySettings,
                   profiles: Mapping[tuple[str, str], ProfileTable] | None = None
                   ) -> list[InstanceSpec]:
    """One simulator instance per placed instance of ``allocation``."""
    profiles = profiles or {}
    by_llm = {entry.llm: entry for entry in allocation.llms}
    specs = []
    for placed in placement.instances:
        entry = by_llm[placed.llm]
        llm, gpu = catalog.llms[entry.llm], catalog.gpus[entry.gpu]
        plan = memory_plan(llm, gpu, entry.tp, entry.gpu_fraction, memory)
        if not plan.feasible:
            raise ProfileError(plan.reason, source=f"allocation '{allocation.method}'",
                               field=entry.llm, fix="use a larger TP degree or GPU fraction")
        model = iteration_model(llm, gpu, entry.tp, entry.gpu_fraction, memory,
                                profiles.get((entry.llm, entry.gpu)))
        specs.append(InstanceSpec(
            llm=entry.llm, model=model, kv_capacity_tokens=plan.kv_capacity_tokens,
            max_num_seqs=memory.max_num_seqs,
            max_num_batched_tokens=memory.max_num_batched_tokens,
            label=f"{entry.llm}#{placed.replica}@{placed.node}:{list(placed.gpus)}",
            gpus=tuple(f"{placed.node}:{g}" for g in placed.gpus),
            contention=contention_params(gpu.id)))
    return specs
