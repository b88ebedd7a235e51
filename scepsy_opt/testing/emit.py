"""Fixed plans for the emit stage's tests: every mechanism on one or two 8-GPU H100 nodes."""

from __future__ import annotations

from scepsy_opt.core.memory import MemorySettings, memory_plan
from scepsy_opt.core.types import Catalog, ClusterSpec, NodeSpec
from scepsy_opt.emit.record import PlannedInstance

GPU = "H100-SXM-80GB"


def h100_cluster(nodes: int = 1) -> ClusterSpec:
    """``nodes`` DGX-like nodes of 8 H100s in one NVLink domain."""
    return ClusterSpec(name=f"h100-x{nodes}", description="fixed test cluster", nodes=tuple(
        NodeSpec(id=f"node-{i}", gpu=GPU, num_gpus=8, rack="rack-0",
                 nvlink_domains=(tuple(range(8)),), network_gb_s=400.0)
        for i in range(nodes)))


def instance(catalog: Catalog, llm: str, replica: int, node: str, gpus: tuple[int, ...],
             fraction: float, *, mechanism: str = "mps", mig_profile: str | None = None,
             memory: MemorySettings | None = None,
             stages: tuple[tuple[str, tuple[int, ...]], ...] = ()) -> PlannedInstance:
    """A placed instance with the memory budget and compute share the place stage gives it."""
    gpu = catalog.gpus[GPU]
    plan = memory_plan(catalog.llms[llm], gpu, len(gpus), fraction, memory or MemorySettings())
    share = fraction
    budget = plan.budget_gib_per_gpu
    if mig_profile is not None:
        profile = next(p for p in gpu.mig_profiles if p.name == mig_profile)
        share, budget = profile.compute_fraction, profile.memory_gib
    return PlannedInstance(llm=llm, replica=replica, node=node, gpus=gpus, tp=len(gpus),
                           gpu=GPU, gpu_fraction=fraction, compute_share=share,
                           memory_gib_per_gpu=budget, mechanism=mechanism,
                           mig_profile=mig_profile, stages=stages)


def mps_plan(catalog: Catalog) -> tuple[PlannedInstance, ...]:
    """Shared GPUs under MPS (two llms on GPU 0, a reranker beside a replica on GPU 1, a
    fractional TP-2 group on GPUs 6-7) and a whole-GPU TP-4 group."""
    return (
        instance(catalog, "llama-3.1-8b-instruct", 0, "node-0", (0,), 0.5),
        instance(catalog, "llama-3.1-8b-instruct", 1, "node-0", (1,), 0.5),
        instance(catalog, "qwen2.5-7b-instruct", 0, "node-0", (0,), 0.5),
        instance(catalog, "bge-reranker-v2-gemma", 0, "node-0", (1,), 0.25),
        instance(catalog, "llama-3.1-70b-instruct", 0, "node-0", (2, 3, 4, 5), 1.0),
        instance(catalog, "qwen2.5-14b-instruct", 0, "node-0", (6, 7), 0.5),
    )


def mig_plan(catalog: Catalog) -> tuple[PlannedInstance, ...]:
    """MIG slices (two 3g.40gb on GPU 0) beside a whole GPU."""
    return (
        instance(catalog, "llama-3.1-8b-instruct", 0, "node-0", (0,), 0.375, mechanism="mig",
                 mig_profile="3g.40gb"),
        instance(catalog, "qwen2.5-7b-instruct", 0, "node-0", (0,), 0.375, mechanism="mig",
                 mig_profile="3g.40gb"),
        instance(catalog, "qwen2.5-14b-instruct", 0, "node-0", (1,), 1.0, mechanism="mig"),
    )


def multi_node_plan(catalog: Catalog) -> tuple[PlannedInstance, ...]:
    """A group that spans two nodes (pipeline stages of TP 8 each)."""
    return (instance(catalog, "llama-3.1-70b-instruct", 0, "node-0", tuple(range(8)), 1.0,
                     stages=(("node-1", tuple(range(8))),)),)
