"""Frozen values that cross stage boundaries: the catalog (llms, GPUs), clusters and targets.

Units are in field names (``memory_gib``, ``hbm_bandwidth_gb_s`` is GB/s, ``rate_rps``). Values are
keyed by ids, never by positions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "fp8": 1, "int8": 1}
TP_DEGREES = (1, 2, 4, 8)
LLM_TASKS = ("generate", "score", "reward")


@dataclass(frozen=True)
class ServingOverrides:
    """What vLLM needs beyond a checkpoint's ``config.json`` to serve the llm as its task
    (``serving:`` in ``spec.yaml``). ``hf_overrides``: vLLM's ``--hf-overrides``, kept as
    canonical JSON (sorted keys) so the spec stays hashable; ``source``: where vLLM documents
    them for this checkpoint."""

    hf_overrides_json: str = ""
    source: str = ""

    @property
    def hf_overrides(self) -> dict[str, Any]:
        """The ``--hf-overrides`` mapping (empty when the checkpoint needs none)."""
        return json.loads(self.hf_overrides_json) if self.hf_overrides_json else {}


@dataclass(frozen=True)
class LlmSpec:
    """One served language model of the catalog (``models/<id>/spec.yaml``)."""

    id: str
    hf_id: str
    source: str
    task: str
    architecture: str
    parameters: int
    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    max_context_tokens: int
    dtype: str
    weight_bytes: int
    tie_word_embeddings: bool
    license: str = ""
    test_only: bool = False
    has_vllm_config: bool = False
    serving: ServingOverrides = ServingOverrides()

    @property
    def dtype_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def kv_bytes_per_token(self) -> int:
        """KV-cache bytes one token occupies over all layers (keys and values)."""
        return 2 * self.num_layers * self.num_kv_heads * self.head_dim * self.dtype_bytes

    @property
    def weight_gib(self) -> float:
        return self.weight_bytes / 2**30


@dataclass(frozen=True)
class MigProfile:
    """A Multi-Instance GPU profile: ``compute_slices`` of ``total_slices`` and a memory slice."""

    name: str
    compute_slices: int
    total_slices: int
    memory_gib: float
    max_instances: int

    @property
    def compute_fraction(self) -> float:
        return self.compute_slices / self.total_slices


@dataclass(frozen=True)
class GpuSpec:
    """One GPU type (``models/gpus/<id>.yaml``); every number cites its source in the file."""

    id: str
    vendor: str
    memory_gib: float
    hbm_bandwidth_gb_s: float
    bf16_dense_tflops: float
    sm_count: int
    nvlink_gb_s: float
    pcie_gb_s: float
    form_factor: str
    mig_profiles: tuple[MigProfile, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def has_nvlink(self) -> bool:
        return self.nvlink_gb_s > 0

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * 2**30)


@dataclass(frozen=True)
class NodeSpec:
    """One server: its GPUs (indices 0..num_gpus-1), NVLink domains and rack."""

    id: str
    gpu: str
    num_gpus: int
    rack: str
    nvlink_domains: tuple[tuple[int, ...], ...]
    network_gb_s: float

    def domain_of(self, gpu_index: int) -> tuple[int, ...]:
        for domain in self.nvlink_domains:
            if gpu_index in domain:
                return domain
        raise KeyError(f"GPU {gpu_index} is not in node {self.id}")


@dataclass(frozen=True)
class ClusterSpec:
    """A GPU cluster, expanded to explicit nodes. ``serving_overhead_ms`` is the time every llm
    call spends outside the engine (HTTP, router, client framework), added to each call's
    latency by the simulator and the surrogate; 0 by default."""

    name: str
    description: str
    nodes: tuple[NodeSpec, ...]
    serving_overhead_ms: float = 0.0

    @property
    def num_gpus(self) -> int:
        return sum(node.num_gpus for node in self.nodes)

    @property
    def gpu_types(self) -> tuple[str, ...]:
        return tuple(sorted({node.gpu for node in self.nodes}))

    @property
    def racks(self) -> tuple[str, ...]:
        return tuple(sorted({node.rack for node in self.nodes}))

    def node(self, node_id: str) -> NodeSpec:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)


@dataclass(frozen=True)
class Target:
    """What the plan must sustain (``conf/target``): ``rate_rps``, the requests per second of
    the workflow (for a mix: all members together, split by weight); ``utilization_cap``, the
    highest planned utilisation of any llm's instances and of the workflow's predicted
    throughput (headroom for bursts)."""

    rate_rps: float = 1.0
    utilization_cap: float = 0.8

    def __post_init__(self) -> None:
        from scepsy_opt.core.settings import fraction, positive

        positive(self.rate_rps, "rate_rps", "set target.rate_rps to the requests/s to sustain")
        fraction(self.utilization_cap, "utilization_cap",
                 "set the highest planned utilisation of an instance, e.g. 0.8")


@dataclass(frozen=True)
class Catalog:
    """The llm and GPU catalogs, keyed by id."""

    llms: dict[str, LlmSpec] = field(default_factory=dict)
    gpus: dict[str, GpuSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class LlmAllocation:
    """How one llm is served: ``replicas`` instances of ``tp`` GPUs of type ``gpu``, each
    instance using ``gpu_fraction`` of each of its GPUs (1.0: whole GPUs)."""

    llm: str
    gpu: str
    tp: int
    replicas: int
    gpu_fraction: float

    @property
    def gpus(self) -> float:
        """GPU capacity the llm takes (fractions count as fractions)."""
        return self.tp * self.replicas * self.gpu_fraction


@dataclass(frozen=True)
class Allocation:
    """Per llm TP degree, replicas and GPU fraction; ``method`` names the producer."""

    method: str
    llms: tuple[LlmAllocation, ...]
    note: str = ""

    def llm(self, llm_id: str) -> LlmAllocation:
        for entry in self.llms:
            if entry.llm == llm_id:
                return entry
        raise KeyError(llm_id)

    @property
    def gpus(self) -> float:
        return sum(entry.gpus for entry in self.llms)


@dataclass(frozen=True)
class InstancePlacement:
    """One instance (replica ``replica`` of ``llm``) on GPUs ``gpus`` of node ``node``."""

    llm: str
    replica: int
    node: str
    gpus: tuple[int, ...]
    gpu_fraction: float


@dataclass(frozen=True)
class Placement:
    """Where every instance of an allocation runs; ``method`` names the placer."""

    method: str
    instances: tuple[InstancePlacement, ...]
