"""Settings of the emit stage (``conf/emit/``), frozen; also its Hydra schema
(:mod:`scepsy_opt.core.settings`).

The CLI builds them once from the Hydra config (:func:`scepsy_opt.config.to_settings`); the
emitters receive them and read nothing else. Formats: vllm (``vllm serve --config`` files,
environments, per-node launch scripts), kubernetes (Deployments or LeaderWorkerSets,
Services, DRA ResourceClaims), ray_serve (a Ray Serve LLM config), plan (plan.json).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from scepsy_opt.core.fault_domains import isolation_groups
from scepsy_opt.core.names import HOST_RULE, is_dns_label, is_host
from scepsy_opt.core.placement import MECHANISMS, Mechanism
from scepsy_opt.core.settings import check, normalise

Format = Literal["vllm", "kubernetes", "ray_serve", "plan"]
FORMATS = get_args(Format)
FRACTION_MECHANISMS = MECHANISMS


def _port(value: int, key: str) -> None:
    check(isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535, key,
          "must be a TCP port in [1, 65535]", value, "use e.g. 8000")


def _host(value: str, key: str) -> None:
    check(is_host(value), key, f"not a host to listen on: it must be {HOST_RULE}", value,
          "use e.g. 0.0.0.0, 127.0.0.1, ::1 or a host name")


def _plain_text(value: str) -> bool:
    """No control character (a line break would end a line of a script or an env file)."""
    return not any(ord(c) < 32 or ord(c) == 127 for c in value)


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

    base_port: int = 8000  # instances of a node listen on base_port, base_port + 1, ...
    host: str = "0.0.0.0"
    model_root: str | None = None
    memory_headroom: float | None = None
    # max-model-len; None: the workflow's longest call rounded up to a multiple of 1024, within
    # the llm's context and the instance's KV cache
    max_model_len_tokens: int | None = None
    # e.g. {enable-prefix-caching: true}; options the plan sets are refused
    extra_args: tuple[tuple[str, Any], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    health_timeout_s: int = 1200  # seconds launch.sh waits for an instance's /health
    # launch.sh finds or starts the MPS control daemon on a node with MPS-shared GPUs; false
    # only for vLLM's CPU build (emit=cpu_test), where no GPU share is enforced
    mps_daemon: bool = True

    def __post_init__(self) -> None:
        _port(self.base_port, "base_port")
        _host(self.host, "host")
        check(self.model_root is None or bool(str(self.model_root).strip())
              and _plain_text(str(self.model_root)), "model_root",
              "must be a path without control characters, 'catalog' or null", self.model_root,
              "use e.g. /models, catalog, or null for Hugging Face ids")
        check(self.memory_headroom is None or 0 <= self.memory_headroom < 1, "memory_headroom",
              "must be in [0, 1) or null", self.memory_headroom,
              "leave e.g. 0.1 of each instance's share free, or null for the memory model's "
              "1 - profile.memory.memory_utilization")
        for key in ("max_model_len_tokens", "health_timeout_s"):
            value = getattr(self, key)
            check(value is None or value > 0, key, "must be > 0", value,
                  "use a positive integer (or null)")
        for name, value in self.env:
            check(bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(name))), "env",
                  "not an environment variable name", name, "use e.g. HF_HOME")
            check(_plain_text(str(value)), f"env.{name}",
                  "an environment value may not hold control characters (line breaks)", value,
                  "write the value on one line")
        normalise(self, "env", tuple((str(k), str(v)) for k, v in self.env))


# Catalog llms whose Hugging Face repositories are gated (their licence must be accepted, and
# downloads need a token): Meta's Llama and Mistral AI's checkpoints.
GATED_LLMS = ("llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.1-8b-instruct",
              "llama-3.1-70b-instruct", "llama-3.2-3b-instruct", "mistral-7b-instruct-v0.3")


@dataclass(frozen=True)
class KubernetesOptions:
    """The Kubernetes objects: ``version`` is the Kubernetes release whose schemas validate
    them; ``node_label`` selects a placed node by its id (``node_names`` renames plan node ids
    to the cluster's node label values).

    Production settings (:mod:`scepsy_opt.emit.kubernetes_serving`): ``hf_token_secret`` /
    ``hf_token_key``: the Secret holding the Hugging Face token that pods of ``gated_llms``
    read as ``HF_TOKEN`` (None: no token); ``model_cache_pvc``: a PersistentVolumeClaim
    (ReadWriteMany, large enough for every llm's weights) mounted at ``model_cache_path``,
    into which an init container downloads each checkpoint (None: vLLM downloads at start);
    ``memory_gib`` (base), ``shm_gib`` and ``worker_memory_gib`` (per TP worker) size each
    pod's host memory with the llm's weights; ``router`` adds one OpenAI-compatible entry
    point (Service ``openai``, ``router_image``); ``autoscale_max_replicas`` above 1 adds a
    HorizontalPodAutoscaler per whole-GPU Deployment on ``autoscale_metric`` (average per pod
    ``autoscale_target``)."""

    version: str = "1.34"
    namespace: str = "scepsy"
    image: str = "vllm/vllm-openai:v0.32.0"
    node_label: str = "kubernetes.io/hostname"
    node_names: tuple[tuple[str, str], ...] = ()
    device_class: str = "gpu.nvidia.com"  # DRA device class of the GPUs MPS-shared instances claim
    port: int = 8000
    cpu: str = "4"
    memory_gib: int = 16
    shm_gib: int = 16
    worker_memory_gib: int = 4
    startup_timeout_s: int = 1200  # how long the startup probe lets vLLM load an llm
    hf_token_secret: str | None = "hf-token"
    hf_token_key: str = "token"
    gated_llms: tuple[str, ...] = GATED_LLMS
    model_cache_pvc: str | None = "scepsy-model-cache"
    model_cache_path: str = "/model-cache"
    router: bool = True
    router_image: str = "lmcache/lmstack-router:latest"
    autoscale_max_replicas: int = 1  # 1: no autoscaler
    autoscale_metric: str = "vllm_num_requests_waiting"
    autoscale_target: int = 8

    def __post_init__(self) -> None:
        version = str(self.version)
        check(bool(re.fullmatch(r"v?1\.\d+(\.\d+)?", version))
              and int(version.lstrip("v").split(".")[1]) >= 34, "version",
              "unsupported Kubernetes version", self.version,
              "use 1.34 or later (DRA's resource.k8s.io/v1)")
        normalise(self, "version", version.lstrip("v"))
        for key, what in (("namespace", "namespace"), ("hf_token_secret", "Secret"),
                          ("model_cache_pvc", "PersistentVolumeClaim")):
            value = getattr(self, key)
            check(value is None and key != "namespace" or is_dns_label(value), key,
                  f"not a Kubernetes {what} name", value,
                  "use lower-case letters, digits and '-', e.g. scepsy")
        for key in ("image", "node_label", "device_class", "cpu", "hf_token_key",
                    "router_image", "autoscale_metric"):
            check(bool(str(getattr(self, key)).strip()), key, "must not be empty",
                  getattr(self, key), "see conf/emit/default.yaml")
        check(str(self.model_cache_path).startswith("/"), "model_cache_path",
              "must be an absolute path", self.model_cache_path, "use e.g. /model-cache")
        for key in ("memory_gib", "shm_gib", "worker_memory_gib", "startup_timeout_s",
                    "autoscale_max_replicas", "autoscale_target"):
            check(getattr(self, key) > 0, key, "must be > 0", getattr(self, key),
                  "use a positive integer")
        _port(self.port, "port")
        normalise(self, "cpu", str(self.cpu))
        normalise(self, "gated_llms", tuple(str(llm) for llm in self.gated_llms))
        normalise(self, "node_names", tuple(sorted((str(k), str(v))
                                                   for k, v in self.node_names)))

    def node_name(self, node: str) -> str:
        return dict(self.node_names).get(node, node)


@dataclass(frozen=True)
class RayServeOptions:
    """The Ray Serve LLM config: the HTTP port of Serve's proxy, and the route of each llm's
    application (``{llm}`` is replaced by the llm id)."""

    http_host: str = "0.0.0.0"
    http_port: int = 8000
    route_prefix: str = "/{llm}"

    def __post_init__(self) -> None:
        _host(self.http_host, "http_host")
        _port(self.http_port, "http_port")
        check(self.route_prefix.startswith("/") and "{llm}" in self.route_prefix,
              "route_prefix", "must start with / and contain {llm}", self.route_prefix,
              "use e.g. /{llm}")


@dataclass(frozen=True)
class MpsOptions:
    """GPU sharing under MPS.

    ``isolation``: groups of llms that must not share a GPU, e.g. ``[[planner, coder]]`` (no
    GPU hosts instances of both) or ``[[coder]]`` (coder shares no GPU with another llm; its
    own replicas may). Under MPS a fatal fault of one client takes down every client of its
    GPUs (and, through tensor-parallel groups, of the GPUs they span), so isolation keeps llms
    out of one another's fault domains (:mod:`scepsy_opt.core.fault_domains`). The place stage
    enforces it (``placement.isolation`` follows this setting); emit re-checks the placement
    against it and records the fault domains in ``plan.json``.
    """

    isolation: tuple[Any, ...] = ()  # lists of llm ids, normalised to tuples

    def __post_init__(self) -> None:
        normalise(self, "isolation", isolation_groups(self.isolation, "isolation"))


@dataclass(frozen=True)
class EmitSettings:
    """``formats``: which manifests to write (:data:`FORMATS`); ``fraction_mechanism``: how
    GPU fractions are enforced (``mps`` or ``mig``, the placement's); ``mps``: GPU sharing
    under MPS (:class:`MpsOptions`: the isolation of llms); ``placement``: a
    ``placement.json`` to emit from instead of planning (None: the run's own placement)."""

    formats: tuple[Format, ...] = FORMATS
    fraction_mechanism: Mechanism = "mps"
    mps: MpsOptions = field(default_factory=MpsOptions)
    vllm: VllmOptions = field(default_factory=VllmOptions)
    kubernetes: KubernetesOptions = field(default_factory=KubernetesOptions)
    ray_serve: RayServeOptions = field(default_factory=RayServeOptions)
    placement: str | None = None

    def __post_init__(self) -> None:
        check(bool(self.formats), "formats", "no manifest format selected", list(self.formats),
              f"list some of {', '.join(FORMATS)}")
        normalise(self, "formats", tuple(dict.fromkeys(self.formats)))
