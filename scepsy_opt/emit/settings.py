"""Settings of the emit stage (``conf/emit/``), frozen.

The CLI builds them once from the Hydra config (:func:`scepsy_opt.config.to_settings`); the
emitters receive them and read nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FORMATS = ("vllm", "kubernetes", "ray_serve", "plan")
FRACTION_MECHANISMS = ("mps", "mig")
# Catalog GPU ids -> Ray's accelerator type names (ray.util.accelerators).
RAY_ACCELERATOR_TYPES = {
    "A100-PCIe-80GB": "A100-80G",
    "A100-SXM-40GB": "A100-40G",
    "A100-SXM-80GB": "A100-80G",
    "GH200-96GB": "GH200",
    "H100-SXM-80GB": "H100",
    "H200-141GB": "H200",
    "L40S-48GB": "L40S",
}


@dataclass(frozen=True)
class VllmOptions:
    """How instances are launched with ``vllm serve``.

    ``model_root``: where vLLM loads each llm from: ``None`` for its Hugging Face id,
    ``"catalog"`` for the catalog's folder ``models/<llm>`` (its ``config.json``, for dummy
    weights), or a folder that holds one folder per llm id. ``memory_headroom``: the part of
    an instance's GPU share vLLM leaves free (``gpu-memory-utilization = share x (1 -
    headroom)``); ``None`` takes ``1 - profile.memory.memory_utilization``, so the emitted KV
    cache is the one the plan was sized with. ``extra_args`` (long option names without
    ``--``) and ``env`` go into every instance's config and environment.
    """

    base_port: int = 8000
    host: str = "0.0.0.0"
    model_root: str | None = None
    memory_headroom: float | None = None
    max_model_len_tokens: int | None = None
    extra_args: tuple[tuple[str, Any], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    health_timeout_s: int = 1200


@dataclass(frozen=True)
class KubernetesOptions:
    """The Kubernetes objects: ``version`` is the Kubernetes release whose schemas validate
    them; ``node_label`` selects a placed node by its id (``node_names`` renames plan node ids
    to the cluster's node label values)."""

    version: str = "1.34"
    namespace: str = "scepsy"
    image: str = "vllm/vllm-openai:v0.32.0"
    node_label: str = "kubernetes.io/hostname"
    node_names: tuple[tuple[str, str], ...] = ()
    device_class: str = "gpu.nvidia.com"
    port: int = 8000
    cpu: str = "4"
    memory_gib: int = 32
    shm_gib: int = 16
    startup_timeout_s: int = 1200

    def node_name(self, node: str) -> str:
        return dict(self.node_names).get(node, node)


@dataclass(frozen=True)
class RayServeOptions:
    """The Ray Serve LLM config: the HTTP port of Serve's proxy, and the route of each llm's
    application (``{llm}`` is replaced by the llm id)."""

    http_host: str = "0.0.0.0"
    http_port: int = 8000
    route_prefix: str = "/{llm}"


@dataclass(frozen=True)
class EmitSettings:
    """``formats``: which manifests to write (:data:`FORMATS`); ``fraction_mechanism``: how
    GPU fractions are enforced (``mps`` or ``mig``, the placement's); ``placement``: a
    ``placement.json`` to emit from instead of planning (None: the run's own placement)."""

    formats: tuple[str, ...] = FORMATS
    fraction_mechanism: str = "mps"
    vllm: VllmOptions = field(default_factory=VllmOptions)
    kubernetes: KubernetesOptions = field(default_factory=KubernetesOptions)
    ray_serve: RayServeOptions = field(default_factory=RayServeOptions)
    placement: str | None = None
