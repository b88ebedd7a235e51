"""Hydra structured configs, and their one-time conversion into frozen run settings.

The dataclasses below are registered in Hydra's ConfigStore as ``base_config`` (the first entry of
``conf/config.yaml``'s defaults), so every composed config is type-checked by OmegaConf: an unknown
key or a value of the wrong type fails composition with the key's full name. :func:`to_settings`
then validates ranges and cross references (GPU ids, llm ids) and builds the frozen
:class:`RunSettings` the stages receive. Stages never see a ``DictConfig``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from scepsy_opt.core.catalog import expand_cluster, main_gpu_type
from scepsy_opt.core.errors import ConfigError
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.placement import PlacementOptions
from scepsy_opt.core.profiling import ProfileGrid
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.types import TP_DEGREES, Catalog, ClusterSpec, Target
from scepsy_opt.emit.settings import (
    FORMATS,
    FRACTION_MECHANISMS,
    EmitSettings,
    KubernetesOptions,
    RayServeOptions,
    VllmOptions,
)
from scepsy_opt.placement.presets import SolverPreset, read_preset
from scepsy_opt.profile.stage import ProfileSettings
from scepsy_opt.sim.arrivals import ArrivalProcess
from scepsy_opt.sim.settings import SimulateSettings, SustainSettings
from scepsy_opt.surrogate.calib import MIX_MODES, CalibrationSettings
from scepsy_opt.surrogate.data import InstanceDataSettings
from scepsy_opt.surrogate.stage import FitSettings
from scepsy_opt.workflow.spec import WorkflowSpec, parse_workflow
from scepsy_opt.workflow.work import WorkEstimateSettings

# ------------------------------------------------------------------ structured (Hydra) configs


@dataclass
class WorkflowConf:
    """``conf/workflow/<name>.yaml``: see :mod:`scepsy_opt.workflow.spec`."""

    name: str = MISSING
    description: str = ""
    program: Any = None
    traces: Any = None
    members: Any = None
    weight: float = 1.0


@dataclass
class NodeGroupConf:
    """``count`` identical nodes. NVLink domains: ``nvlink_domains`` (explicit lists of GPU
    indices) or ``nvlink_domain_size`` (consecutive blocks; 1 = no NVLink, PCIe only)."""

    name: str = MISSING
    count: int = 1
    gpu: str = MISSING
    gpus_per_node: int = 8
    nvlink_domain_size: int | None = None
    nvlink_domains: list[list[int]] | None = None
    nodes_per_rack: int = 4
    network_gb_s: float = 400.0


@dataclass
class ClusterConf:
    name: str = MISSING
    description: str = ""
    node_groups: list[NodeGroupConf] = field(default_factory=list)


@dataclass
class TargetConf:
    rate_rps: float = 1.0
    utilization_cap: float = 0.8


@dataclass
class WorkEstimateConf:
    # GPU type call durations are estimated on; null: the cluster's (most common) GPU type
    reference_gpu: str | None = None


@dataclass
class AnalyzeConf:
    num_requests: int = 2000
    write_traces: bool = False
    work_estimate: WorkEstimateConf = field(default_factory=WorkEstimateConf)


@dataclass
class MemoryConf:
    """Instance memory model (scepsy_opt/profile/memory.py) and engine limits."""

    memory_utilization: float = 0.9
    runtime_overhead_gib: float = 1.0
    max_num_batched_tokens: int = 8192
    max_num_seqs: int = 256
    block_size: int = 16
    min_kv_tokens: int = 2048


@dataclass
class ProfileConf:
    """Profile stage settings: the backend and the grid of points it covers.

    Configurations are every TP degree x GPU fraction k / gpu_fraction_denominator.
    ``path``/``options`` configure the import and vllm backends; ``use_kept`` prefers a kept
    measured profile (models/<llm>/profiles/<gpu>.csv) over the roofline model.
    """

    backend: str = "roofline"
    tp_degrees: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    gpu_fraction_denominator: int = 8
    prefill_batch_sizes: list[int] = field(default_factory=lambda: [1, 4, 16])
    prefill_prompt_tokens: list[int] = field(default_factory=lambda: [128, 512, 2048, 8192])
    decode_batch_sizes: list[int] = field(default_factory=lambda: [1, 8, 32, 128, 256])
    decode_context_tokens: list[int] = field(default_factory=lambda: [512, 2048, 8192])
    memory_context_tokens: list[int] = field(default_factory=lambda: [512, 2048, 8192])
    memory: MemoryConf = field(default_factory=MemoryConf)
    path: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    use_kept: bool = True
    call_mix_size: int = 64


@dataclass
class InstanceDataConf:
    mix_calls: int = 4096
    saturation_calls: int = 3000
    load_calls: int = 4000
    loads: list[float] = field(default_factory=lambda: [0.1, 0.3, 0.5, 0.7, 0.85])


@dataclass
class CalibrationConf:
    budgets: list[int] = field(default_factory=lambda: [4, 8, 16])
    allocations_per_budget: int = 8
    loads: list[float] = field(default_factory=lambda: [0.15, 0.35, 0.55, 0.7, 0.85])
    num_requests: int = 600
    probe_requests: int = 300
    bisection_steps: int = 6
    fit_steps: int = 4000
    learning_rate: float = 0.05
    mix: str = "joint"


@dataclass
class FitConf:
    """``cache_dir`` null: ``$SCEPSY_OPT_CACHE`` or ``$XDG_CACHE_HOME/scepsy_opt`` (default
    ``~/.cache/scepsy_opt``), then ``fits/``. ``workers`` 0: every usable core."""

    cache: bool = True
    cache_dir: str | None = None
    workers: int = 0
    instance: InstanceDataConf = field(default_factory=InstanceDataConf)
    calibration: CalibrationConf = field(default_factory=CalibrationConf)


@dataclass
class SearchConf:
    method: str = "gradient_guided"
    max_steps: int = 500
    refine: str = "none"
    refine_candidates: int = 4


@dataclass
class PinConf:
    """Instances of ``llm`` only on ``nodes`` (node ids of the expanded cluster)."""

    llm: str = MISSING
    nodes: list[str] = field(default_factory=list)


@dataclass
class PlacementConf:
    """``solver_preset`` names a HiGHS options file ``solvers/<preset>.opt``. See
    ``conf/placement/default.yaml`` for every key."""

    solver_preset: str = "default"
    memory_headroom: float = 0.05
    anti_affinity: bool = True
    fraction_mechanism: str = "mps"
    pin: list[PinConf] = field(default_factory=list)
    exclude_nodes: list[str] = field(default_factory=list)
    hierarchical_threshold: int = 2000
    export_mps: bool = False


@dataclass
class VllmEmitConf:
    """``vllm serve`` launch configs (see ``conf/emit/default.yaml``)."""

    base_port: int = 8000
    host: str = "0.0.0.0"
    model_root: str | None = None
    memory_headroom: float | None = None
    max_model_len_tokens: int | None = None
    extra_args: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    health_timeout_s: int = 1200


@dataclass
class KubernetesEmitConf:
    version: str = "1.34"
    namespace: str = "scepsy"
    image: str = "vllm/vllm-openai:v0.32.0"
    node_label: str = "kubernetes.io/hostname"
    node_names: dict[str, str] = field(default_factory=dict)
    device_class: str = "gpu.nvidia.com"
    port: int = 8000
    cpu: str = "4"
    memory_gib: int = 32
    shm_gib: int = 16
    startup_timeout_s: int = 1200


@dataclass
class RayServeEmitConf:
    http_host: str = "0.0.0.0"
    http_port: int = 8000
    route_prefix: str = "/{llm}"


@dataclass
class EmitConf:
    """The emit stage (``conf/emit/``): which manifests, how fractions are enforced, and each
    format's options. ``placement``: emit from this placement.json instead of planning."""

    formats: list[str] = field(default_factory=lambda: ["vllm", "kubernetes", "ray_serve", "plan"])
    fraction_mechanism: str = "mps"
    placement: str | None = None
    vllm: VllmEmitConf = field(default_factory=VllmEmitConf)
    kubernetes: KubernetesEmitConf = field(default_factory=KubernetesEmitConf)
    ray_serve: RayServeEmitConf = field(default_factory=RayServeEmitConf)


@dataclass
class ArrivalConf:
    process: str = "poisson"
    cv: float = 1.0
    trace: str = "azure_code_2023"


@dataclass
class SustainConf:
    throughput_ratio: float = 0.95
    latency_growth: float = 1.5
    completed_fraction: float = 0.99
    iterations: int = 7
    num_requests: int = 300
    latency_spans: float = 10.0


@dataclass
class SimulateConf:
    """The evaluation harness (``evaluate=true``): simulations of plans and baselines."""

    num_requests: int = 600
    warmup_fraction: float = 0.1
    batches: int = 20
    routing: str = "least_work"
    arrivals: ArrivalConf = field(default_factory=ArrivalConf)
    sustain: SustainConf = field(default_factory=SustainConf)
    baselines: list[str] = field(default_factory=lambda: [
        "independent", "user_specified", "pooled_tp1", "exact"])
    exact_max_candidates: int = 64


@dataclass
class RunConf:
    workflow: WorkflowConf | None = None
    cluster: ClusterConf = MISSING
    target: TargetConf = MISSING
    profile: ProfileConf = MISSING
    fit: FitConf = MISSING
    search: SearchConf = MISSING
    placement: PlacementConf = MISSING
    emit: EmitConf = MISSING
    simulate: SimulateConf = MISSING
    analyze: AnalyzeConf = field(default_factory=AnalyzeConf)
    evaluate: bool = False
    stop_after: str = "report"
    seed: int = 0
    from_run: str | None = None
    stage: str | None = None


def run_dir(from_run: str | None, stage: str | None, workflow: str, now: str) -> str:
    """Hydra's run directory (``scepsy_run_dir`` resolver of ``conf/config.yaml``): a run's own
    ``outputs/<workflow>/<time>``, or for a stage re-run ``<from_run>/reruns/<time>_<stage>``
    (its config and log; the re-run stage's artifacts go to ``from_run`` itself)."""
    if from_run is not None:
        return f"{from_run}/reruns/{now}_{stage}"
    return f"outputs/{workflow}/{now}"


def register_configs() -> None:
    """Register the schema; ``conf/config.yaml`` lists ``base_config`` first in its defaults.
    Also the ``scepsy_run_dir`` resolver of Hydra's run directory."""
    ConfigStore.instance().store(name="base_config", node=RunConf)
    OmegaConf.register_new_resolver("scepsy_run_dir", run_dir, replace=True)


# ------------------------------------------------------------------ frozen settings for stages


@dataclass(frozen=True)
class AnalyzeSettings:
    num_requests: int
    seed: int
    write_traces: bool
    work_estimate: WorkEstimateSettings


@dataclass(frozen=True)
class SearchSettings:
    method: str
    max_steps: int
    refine: str = "none"  # none | simulate: the best candidates re-ranked by the simulator
    refine_candidates: int = 4


@dataclass(frozen=True)
class PlacementSettings:
    solver_options_path: str
    preset: SolverPreset
    options: PlacementOptions
    hierarchical_threshold: int
    export_mps: bool


@dataclass(frozen=True)
class RunSettings:
    workflow: WorkflowSpec
    cluster: ClusterSpec
    target: Target
    analyze: AnalyzeSettings
    profile: ProfileSettings
    fit: FitSettings
    search: SearchSettings
    placement: PlacementSettings
    emit: EmitSettings
    simulate: SimulateSettings
    evaluate: bool
    seed: int
    stop_after: str = "report"
    # re-run one stage alone from the artifacts of an earlier run directory
    from_run: Path | None = None
    stage: str | None = None


PROFILE_BACKENDS = ("roofline", "vllm", "import")
SEARCH_METHODS = ("gradient_guided", "exact")
SEARCH_REFINES = ("none", "simulate")
STAGES = ("analyze", "profile", "fit", "search", "place", "emit", "report")
# stages that can re-run alone from a run directory's artifacts (from_run=<dir> stage=<name>)
RERUN_STAGES = ("place", "emit", "report")
EMIT_FORMATS = FORMATS


def _positive(value: float, key: str, fix: str, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and ok):
        raise ConfigError(f"must be {'>= 0' if allow_zero else '> 0'}", source="config",
                          field=key, value=value, fix=fix)


def _fraction(value: float, key: str, fix: str) -> None:
    if not (math.isfinite(value) and 0 < value <= 1):
        raise ConfigError("must be in (0, 1]", source="config", field=key, value=value, fix=fix)


def _one_of(value: str, allowed: tuple[str, ...], key: str) -> None:
    if value not in allowed:
        raise ConfigError("unknown option", source="config", field=key, value=value,
                          fix=f"use one of {', '.join(allowed)}")


def _positive_ints(values: list[int], key: str) -> tuple[int, ...]:
    if not values or any(v <= 0 for v in values):
        raise ConfigError("must be a non-empty list of positive integers", source="config",
                          field=key, value=values, fix="list e.g. [1, 8, 32]")
    return tuple(sorted(set(values)))


def _profile_settings(profile: dict[str, Any]) -> ProfileSettings:
    _one_of(profile["backend"], PROFILE_BACKENDS, "profile.backend")
    bad_tp = [tp for tp in profile["tp_degrees"] if tp not in TP_DEGREES]
    if bad_tp or not profile["tp_degrees"]:
        raise ConfigError("unsupported tensor-parallel degree", source="config",
                          field="profile.tp_degrees", value=profile["tp_degrees"],
                          fix=f"choose among {list(TP_DEGREES)}")
    denominator = profile["gpu_fraction_denominator"]
    if denominator not in (1, 2, 4, 7, 8, 16):
        raise ConfigError("unsupported GPU fraction grid", source="config",
                          field="profile.gpu_fraction_denominator", value=denominator,
                          fix="use 1, 2, 4, 8 or 16 (fractions k/denominator) or 7 (MIG slices)")
    grid = ProfileGrid(
        tp_degrees=tuple(sorted(set(profile["tp_degrees"]))),
        gpu_fractions=tuple(k / denominator for k in range(1, denominator + 1)),
        **{key: _positive_ints(profile[key], f"profile.{key}") for key in (
            "prefill_batch_sizes", "prefill_prompt_tokens", "decode_batch_sizes",
            "decode_context_tokens", "memory_context_tokens")},
    )
    memory = profile["memory"]
    _fraction(memory["memory_utilization"], "profile.memory.memory_utilization",
              "use vLLM's gpu_memory_utilization, e.g. 0.9")
    _positive(memory["runtime_overhead_gib"], "profile.memory.runtime_overhead_gib",
              "reserve GiB for the CUDA context and workspaces", allow_zero=True)
    for key in ("max_num_batched_tokens", "max_num_seqs", "block_size", "min_kv_tokens"):
        if memory[key] <= 0:
            raise ConfigError("must be > 0", source="config", field=f"profile.memory.{key}",
                              value=memory[key], fix="use vLLM's engine limits")
    if profile["backend"] == "import" and profile["path"] in (None, "", "???"):
        raise ConfigError("the import backend needs profile.path", source="config",
                          field="profile.path", value=profile["path"],
                          fix="set profile.path=<vllm bench result file or folder>")
    if profile["call_mix_size"] <= 0:
        raise ConfigError("must be > 0", source="config", field="profile.call_mix_size",
                          value=profile["call_mix_size"], fix="replay at least one call")
    return ProfileSettings(
        backend=profile["backend"], grid=grid, memory=MemorySettings(**memory),
        path=profile["path"], options=tuple(sorted((profile["options"] or {}).items())),
        use_kept=bool(profile["use_kept"]), call_mix_size=int(profile["call_mix_size"]))


def default_cache_dir() -> Path:
    """Where fitted models are kept across runs: ``$SCEPSY_OPT_CACHE``, else
    ``$XDG_CACHE_HOME/scepsy_opt`` (default ``~/.cache/scepsy_opt``), then ``fits/``."""
    root = os.environ.get("SCEPSY_OPT_CACHE")
    if not root:
        root = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                   / "scepsy_opt")
    return Path(root).expanduser() / "fits"


def _fit_settings(fit: dict[str, Any], seed: int) -> FitSettings:
    from scepsy_opt.core.parallel import default_workers

    instance, calibration = fit["instance"], fit["calibration"]
    for key in ("mix_calls", "saturation_calls", "load_calls"):
        if instance[key] < 16:
            raise ConfigError("must be >= 16", source="config", field=f"fit.instance.{key}",
                              value=instance[key], fix="simulate at least 16 calls, e.g. 1000")
    for key, loads in (("fit.instance.loads", instance["loads"]),
                       ("fit.calibration.loads", calibration["loads"])):
        if not loads or any(not 0 < x < 1 for x in loads):
            raise ConfigError("every load must be in (0, 1)", source="config", field=key,
                              value=loads, fix="use utilisations such as [0.3, 0.7]")
    budgets = _positive_ints(calibration["budgets"], "fit.calibration.budgets")
    for key in ("allocations_per_budget", "num_requests", "probe_requests", "bisection_steps",
                "fit_steps"):
        if calibration[key] <= 0:
            raise ConfigError("must be > 0", source="config", field=f"fit.calibration.{key}",
                              value=calibration[key], fix="use a positive integer")
    _positive(calibration["learning_rate"], "fit.calibration.learning_rate", "e.g. 0.05")
    if calibration["mix"] not in MIX_MODES:
        raise ConfigError("unknown mix calibration", source="config",
                          field="fit.calibration.mix", value=calibration["mix"],
                          fix="use " + " or ".join(f"{k} ({v})" for k, v in MIX_MODES.items()))
    if fit["workers"] < 0:
        raise ConfigError("must be >= 0", source="config", field="fit.workers",
                          value=fit["workers"], fix="use 0 for every core, or a process count")
    cache_dir = None
    if fit["cache"]:
        cache_dir = Path(fit["cache_dir"]).expanduser() if fit["cache_dir"] else \
            default_cache_dir()
    return FitSettings(
        instance=InstanceDataSettings(**{**instance, "loads": tuple(instance["loads"])}),
        calibration=CalibrationSettings(**{**calibration, "budgets": budgets,
                                           "loads": tuple(calibration["loads"]),
                                           "seed": seed}),
        cache_dir=cache_dir,
        workers=int(fit["workers"]) or default_workers())


def _simulate_settings(simulate: dict[str, Any], seed: int) -> SimulateSettings:
    from scepsy_opt.evaluate.baselines import BASELINES
    from scepsy_opt.sim.simulator import ROUTINGS

    for key in ("num_requests", "batches", "exact_max_candidates"):
        if simulate[key] <= 0:
            raise ConfigError("must be > 0", source="config", field=f"simulate.{key}",
                              value=simulate[key], fix="use a positive integer")
    if not 0 <= simulate["warmup_fraction"] < 1:
        raise ConfigError("must be in [0, 1)", source="config", field="simulate.warmup_fraction",
                          value=simulate["warmup_fraction"], fix="e.g. 0.1")
    _one_of(simulate["routing"], ROUTINGS, "simulate.routing")
    for name in simulate["baselines"]:
        _one_of(name, BASELINES, "simulate.baselines")
    sustain = simulate["sustain"]
    _fraction(sustain["throughput_ratio"], "simulate.sustain.throughput_ratio", "e.g. 0.95")
    _fraction(sustain["completed_fraction"], "simulate.sustain.completed_fraction", "e.g. 0.99")
    if sustain["latency_growth"] < 1:
        raise ConfigError("must be >= 1", source="config", field="simulate.sustain.latency_growth",
                          value=sustain["latency_growth"], fix="e.g. 1.5")
    for key in ("iterations", "num_requests"):
        if sustain[key] <= 0:
            raise ConfigError("must be > 0", source="config", field=f"simulate.sustain.{key}",
                              value=sustain[key], fix="use a positive integer")
    _positive(sustain["latency_spans"], "simulate.sustain.latency_spans", "e.g. 10")
    return SimulateSettings(
        num_requests=int(simulate["num_requests"]),
        warmup_fraction=float(simulate["warmup_fraction"]),
        batches=int(simulate["batches"]), routing=simulate["routing"],
        arrivals=ArrivalProcess(**simulate["arrivals"]),
        sustain=SustainSettings(**sustain), baselines=tuple(simulate["baselines"]),
        exact_max_candidates=int(simulate["exact_max_candidates"]), seed=seed)


def _placement_settings(placement: dict[str, Any], cluster: ClusterSpec) -> PlacementSettings:
    if not 0 <= placement["memory_headroom"] < 1:
        raise ConfigError("must be in [0, 1)", source="config", field="placement.memory_headroom",
                          value=placement["memory_headroom"], fix="reserve e.g. 0.05 of GPU memory")
    _one_of(placement["fraction_mechanism"], FRACTION_MECHANISMS, "placement.fraction_mechanism")
    if placement["hierarchical_threshold"] < 0:
        raise ConfigError("must be >= 0", source="config",
                          field="placement.hierarchical_threshold",
                          value=placement["hierarchical_threshold"],
                          fix="use 0 to always decompose, or a count of GPU x llm pairs")
    node_ids = {n.id for n in cluster.nodes}
    shown = ", ".join(sorted(node_ids)[:6]) + (", ..." if len(node_ids) > 6 else "")
    for key, nodes in [("placement.exclude_nodes", placement["exclude_nodes"])] + [
            (f"placement.pin[{i}].nodes", pin["nodes"]) for i, pin in
            enumerate(placement["pin"])]:
        for node in nodes:
            if node not in node_ids:
                raise ConfigError("unknown node", source="config", field=key, value=node,
                                  fix=f"use node ids of cluster '{cluster.name}': {shown}")
    for i, pin in enumerate(placement["pin"]):
        if not pin["nodes"]:
            raise ConfigError("a pin needs at least one node", source="config",
                              field=f"placement.pin[{i}].nodes", value=pin["nodes"],
                              fix="list node ids, e.g. nodes: [dgx-h100-00]")
    path = data_dir("solvers") / f"{placement['solver_preset']}.opt"
    return PlacementSettings(
        solver_options_path=str(path), preset=read_preset(path),
        options=PlacementOptions(
            memory_headroom=float(placement["memory_headroom"]),
            anti_affinity=bool(placement["anti_affinity"]),
            fraction_mechanism=placement["fraction_mechanism"],
            pins=tuple((pin["llm"], tuple(pin["nodes"])) for pin in placement["pin"]),
            exclude_nodes=tuple(placement["exclude_nodes"])),
        hierarchical_threshold=int(placement["hierarchical_threshold"]),
        export_mps=bool(placement["export_mps"]))


_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def _port(value: int, key: str) -> None:
    if not 1 <= value <= 65535:
        raise ConfigError("must be a TCP port in [1, 65535]", source="config", field=key,
                          value=value, fix="use e.g. 8000")


def _emit_settings(emit: dict[str, Any], placement_mechanism: str) -> EmitSettings:
    if not emit["formats"]:
        raise ConfigError("no manifest format selected", source="config", field="emit.formats",
                          value=emit["formats"], fix=f"list some of {', '.join(FORMATS)}")
    for fmt in emit["formats"]:
        _one_of(fmt, EMIT_FORMATS, "emit.formats")
    _one_of(emit["fraction_mechanism"], FRACTION_MECHANISMS, "emit.fraction_mechanism")
    if placement_mechanism != emit["fraction_mechanism"]:
        raise ConfigError("the placement and the manifests must enforce GPU fractions the same "
                          "way", source="config", field="placement.fraction_mechanism",
                          value=placement_mechanism,
                          fix=f"set emit.fraction_mechanism={placement_mechanism} (placement "
                              "follows it by default) instead of placement.fraction_mechanism")
    vllm, k8s, ray = emit["vllm"], emit["kubernetes"], emit["ray_serve"]
    _port(vllm["base_port"], "emit.vllm.base_port")
    if vllm["memory_headroom"] is not None and not 0 <= vllm["memory_headroom"] < 1:
        raise ConfigError("must be in [0, 1) or null", source="config",
                          field="emit.vllm.memory_headroom", value=vllm["memory_headroom"],
                          fix="leave e.g. 0.1 of each instance's share free, or null for the "
                              "memory model's 1 - profile.memory.memory_utilization")
    for key in ("max_model_len_tokens", "health_timeout_s"):
        if vllm[key] is not None and vllm[key] <= 0:
            raise ConfigError("must be > 0", source="config", field=f"emit.vllm.{key}",
                              value=vllm[key], fix="use a positive integer (or null)")
    for name in vllm["env"]:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(name)):
            raise ConfigError("not an environment variable name", source="config",
                              field="emit.vllm.env", value=name, fix="use e.g. HF_HOME")
    if not re.fullmatch(r"v?1\.\d+(\.\d+)?", k8s["version"]) or \
            int(k8s["version"].lstrip("v").split(".")[1]) < 34:
        raise ConfigError("unsupported Kubernetes version", source="config",
                          field="emit.kubernetes.version", value=k8s["version"],
                          fix="use 1.34 or later (DRA's resource.k8s.io/v1)")
    if not _DNS_LABEL.match(k8s["namespace"]):
        raise ConfigError("not a Kubernetes namespace name", source="config",
                          field="emit.kubernetes.namespace", value=k8s["namespace"],
                          fix="use lower-case letters, digits and '-', e.g. scepsy")
    for key in ("image", "node_label", "device_class", "cpu"):
        if not str(k8s[key]).strip():
            raise ConfigError("must not be empty", source="config",
                              field=f"emit.kubernetes.{key}", value=k8s[key],
                              fix="see conf/emit/default.yaml")
    for key in ("memory_gib", "shm_gib", "startup_timeout_s"):
        if k8s[key] <= 0:
            raise ConfigError("must be > 0", source="config", field=f"emit.kubernetes.{key}",
                              value=k8s[key], fix="use a positive integer")
    _port(k8s["port"], "emit.kubernetes.port")
    _port(ray["http_port"], "emit.ray_serve.http_port")
    if not ray["route_prefix"].startswith("/") or "{llm}" not in ray["route_prefix"]:
        raise ConfigError("must start with / and contain {llm}", source="config",
                          field="emit.ray_serve.route_prefix", value=ray["route_prefix"],
                          fix="use e.g. /{llm}")
    return EmitSettings(
        formats=tuple(dict.fromkeys(emit["formats"])),
        fraction_mechanism=emit["fraction_mechanism"],
        placement=emit["placement"],
        vllm=VllmOptions(
            base_port=int(vllm["base_port"]), host=str(vllm["host"]),
            model_root=vllm["model_root"], memory_headroom=vllm["memory_headroom"],
            max_model_len_tokens=vllm["max_model_len_tokens"],
            extra_args=tuple((str(k), v) for k, v in vllm["extra_args"].items()),
            env=tuple((str(k), str(v)) for k, v in vllm["env"].items()),
            health_timeout_s=int(vllm["health_timeout_s"])),
        kubernetes=KubernetesOptions(
            version=str(k8s["version"]).lstrip("v"), namespace=k8s["namespace"],
            image=k8s["image"], node_label=k8s["node_label"],
            node_names=tuple(sorted((str(k), str(v)) for k, v in k8s["node_names"].items())),
            device_class=k8s["device_class"], port=int(k8s["port"]), cpu=str(k8s["cpu"]),
            memory_gib=int(k8s["memory_gib"]), shm_gib=int(k8s["shm_gib"]),
            startup_timeout_s=int(k8s["startup_timeout_s"])),
        ray_serve=RayServeOptions(http_host=ray["http_host"], http_port=int(ray["http_port"]),
                                  route_prefix=ray["route_prefix"]))


def to_settings(
    cfg: DictConfig,
    catalog: Catalog,
    *,
    workflow_source: Callable[[str], str],
    workflow_option: str,
    cluster_source: str,
) -> RunSettings:
    """Validate a composed config and freeze it. ``cfg.workflow`` must be set."""
    raw: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    if raw.get("workflow") is None:
        raise ConfigError("no workflow selected", source="config", field="workflow",
                          fix="add +workflow=<name> to the command line")
    workflow = parse_workflow(raw["workflow"], source_of=workflow_source,
                              llm_ids=frozenset(catalog.llms), option=workflow_option)
    cluster = expand_cluster(raw["cluster"], catalog, source=cluster_source)

    target = raw["target"]
    _positive(target["rate_rps"], "target.rate_rps",
              "set target.rate_rps to the requests/s to sustain")
    _fraction(target["utilization_cap"], "target.utilization_cap",
              "set the highest planned utilisation of an instance, e.g. 0.8")

    analyze = raw["analyze"]
    if analyze["num_requests"] <= 0:
        raise ConfigError("must be > 0", source="config", field="analyze.num_requests",
                          value=analyze["num_requests"], fix="sample at least 1 request, e.g. 2000")
    work = analyze["work_estimate"]
    if work["reference_gpu"] is None:
        work["reference_gpu"] = main_gpu_type(cluster)
    if work["reference_gpu"] not in catalog.gpus:
        raise ConfigError("unknown GPU", source="config",
                          field="analyze.work_estimate.reference_gpu",
                          value=work["reference_gpu"],
                          fix=f"use one of {', '.join(sorted(catalog.gpus))}")

    profile_settings = _profile_settings(raw["profile"])
    search = raw["search"]
    _one_of(search["method"], SEARCH_METHODS, "search.method")
    if search["max_steps"] <= 0:
        raise ConfigError("must be > 0", source="config", field="search.max_steps",
                          value=search["max_steps"], fix="allow the search at least one step")
    _one_of(search["refine"], SEARCH_REFINES, "search.refine")
    if search["refine_candidates"] < 1:
        raise ConfigError("must be >= 1", source="config", field="search.refine_candidates",
                          value=search["refine_candidates"],
                          fix="re-rank at least the search's own choice, e.g. 4")
    placement = raw["placement"]
    presets = sorted(p.stem for p in data_dir("solvers").glob("*.opt"))
    if placement["solver_preset"] not in presets:
        raise ConfigError("unknown solver preset", source="config",
                          field="placement.solver_preset", value=placement["solver_preset"],
                          fix=f"use one of {', '.join(presets)} (HiGHS options files in solvers/)")
    placement_settings = _placement_settings(placement, cluster)
    emit_settings = _emit_settings(raw["emit"], placement["fraction_mechanism"])
    _one_of(raw["stop_after"], STAGES, "stop_after")
    from_run, stage = raw.get("from_run"), raw.get("stage")
    if stage is not None:
        _one_of(stage, RERUN_STAGES, "stage")
        if from_run is None:
            raise ConfigError("a stage re-runs from the artifacts of a run directory",
                              source="config", field="stage", value=stage,
                              fix="add from_run=<run directory>, or drop stage=")
    if from_run is not None and stage is None:
        raise ConfigError("no stage to re-run", source="config", field="from_run",
                          value=from_run, fix=f"add stage=<{'|'.join(RERUN_STAGES)}>")

    return RunSettings(
        workflow=workflow,
        cluster=cluster,
        target=Target(rate_rps=float(target["rate_rps"]),
                      utilization_cap=float(target["utilization_cap"])),
        analyze=AnalyzeSettings(
            num_requests=int(analyze["num_requests"]),
            seed=int(raw["seed"]),
            write_traces=bool(analyze["write_traces"]),
            work_estimate=WorkEstimateSettings(reference_gpu=work["reference_gpu"]),
        ),
        profile=profile_settings,
        fit=_fit_settings(raw["fit"], int(raw["seed"])),
        search=SearchSettings(search["method"], int(search["max_steps"]), search["refine"],
                              int(search["refine_candidates"])),
        placement=placement_settings,
        emit=emit_settings,
        simulate=_simulate_settings(raw["simulate"], int(raw["seed"])),
        evaluate=bool(raw["evaluate"]),
        seed=int(raw["seed"]),
        stop_after=raw["stop_after"],
        from_run=Path(from_run).expanduser() if from_run is not None else None,
        stage=stage,
    )


def compose_settings(workflow: str, *overrides: str, catalog: Catalog
                     ) -> tuple[DictConfig, RunSettings]:
    """Compose the shipped configuration with ``+workflow=<workflow>`` and ``overrides`` through
    Hydra's compose API and convert it exactly as the CLI does (for scripts, benchmarks and
    tests; the CLI itself goes through ``@hydra.main``)."""
    from hydra import compose, initialize_config_dir

    register_configs()
    conf = data_dir("conf")
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"+workflow={workflow}", *overrides])
    cluster = next((o.split("=", 1)[1] for o in overrides if o.startswith("cluster=")),
                   str(cfg.cluster.name))
    settings = to_settings(
        cfg, catalog,
        workflow_source=lambda option: str(conf / "workflow" / f"{option}.yaml"),
        workflow_option=workflow,
        cluster_source=str(conf / "cluster" / f"{cluster}.yaml"))
    return cfg, settings
