"""The run's settings: Hydra's structured config and its one-time conversion.

Each stage declares its settings once, as a frozen dataclass in its own package
(:class:`~scepsy_opt.profile.stage.ProfileSettings`,
:class:`~scepsy_opt.surrogate.stage.FitSettings`, ...; see :mod:`scepsy_opt.core.settings`).
:class:`Settings` gathers them with the run's top-level keys. Its derived schema, with the
workflow and cluster document schemas below, is registered in Hydra's ConfigStore as
``base_config`` (the first entry of ``conf/config.yaml``'s defaults), so every composed config
is type-checked by OmegaConf: an unknown key or a value of the wrong type fails composition
with the key's full name. :func:`to_settings` then builds the frozen :class:`RunSettings` once
(the stages' own checks of ranges and choices, then the cross references between groups: GPU
ids, node ids, the fraction mechanism). Stages never see a ``DictConfig``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from scepsy_opt.core.catalog import expand_cluster, main_gpu_type
from scepsy_opt.core.errors import ConfigError
from scepsy_opt.core.fault_domains import (
    ISOLATION_SETTING,
    describe_groups,
    isolation_groups,
    unknown_llms,
)
from scepsy_opt.core.names import is_name, suggest_name
from scepsy_opt.core.placement import PlacementSettings
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.settings import build, check, schema
from scepsy_opt.core.types import Catalog, ClusterSpec, Target
from scepsy_opt.emit.settings import EmitSettings
from scepsy_opt.profile.stage import ProfileSettings
from scepsy_opt.search.stage import SearchSettings
from scepsy_opt.sim.settings import SimulateSettings
from scepsy_opt.surrogate.stage import FitSettings
from scepsy_opt.workflow.spec import WorkflowSpec, parse_workflow
from scepsy_opt.workflow.stage import AnalyzeSettings

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
    """A cluster file. ``serving_overhead_ms``: the time every llm call spends outside the
    engine (HTTP, router, client framework), added to each call's latency; 0 by default."""

    name: str = MISSING
    description: str = ""
    node_groups: list[NodeGroupConf] = field(default_factory=list)
    serving_overhead_ms: float = 0.0


Stage = Literal["analyze", "profile", "fit", "search", "place", "emit", "report"]
# stages that can re-run alone from a run directory's artifacts (from_run=<dir> stage=<name>)
RerunStage = Literal["place", "emit", "report"]
STAGES = get_args(Stage)
RERUN_STAGES = get_args(RerunStage)


@dataclass(frozen=True)
class Settings:
    """Every key of the run configuration but the workflow and cluster documents.

    ``evaluate``: also simulate the planned allocation and the baselines (evaluation.json);
    ``stop_after``: the last stage to run; ``from_run`` with ``stage``: re-run one stage alone
    from the artifacts of an earlier run directory, writing its outputs back there (``place``
    from allocation.json, ``emit`` from placement.json, ``report`` from every artifact; the
    run's own overrides apply first, then this command line's).
    """

    target: Target = Target()
    analyze: AnalyzeSettings = AnalyzeSettings()
    profile: ProfileSettings = ProfileSettings()
    fit: FitSettings = FitSettings()
    search: SearchSettings = SearchSettings()
    placement: PlacementSettings = PlacementSettings()
    emit: EmitSettings = EmitSettings()
    simulate: SimulateSettings = SimulateSettings()
    evaluate: bool = False
    seed: int = 0
    stop_after: Stage = "report"
    from_run: str | None = None
    stage: RerunStage | None = None

    def __post_init__(self) -> None:
        check(self.stage is None or self.from_run is not None, "stage",
              "a stage re-runs from the artifacts of a run directory", self.stage,
              "add from_run=<run directory>, or drop stage=")
        check(self.from_run is None or self.stage is not None, "from_run",
              "no stage to re-run", self.from_run, f"add stage=<{'|'.join(RERUN_STAGES)}>")


@dataclass(frozen=True, kw_only=True)
class RunSettings(Settings):
    """The settings of one run: its workflow and cluster, parsed, and every stage's settings."""

    workflow: WorkflowSpec
    cluster: ClusterSpec


def run_schema() -> type:
    """``base_config``: the workflow and cluster document schemas and :class:`Settings`'."""
    fields = [(f.name, f.type, f) for f in dataclasses.fields(schema(Settings))]
    return dataclasses.make_dataclass("RunConf", [
        ("workflow", WorkflowConf | None, dataclasses.field(default=None)),
        ("cluster", ClusterConf, dataclasses.field(default=MISSING)),
        *[(name, kind, dataclasses.field(default=f.default, default_factory=f.default_factory))
          for name, kind, f in fields]])


def run_dir(from_run: str | None, stage: str | None, workflow: str, now: str) -> str:
    """Hydra's run directory (``scepsy_run_dir`` resolver of ``conf/config.yaml``): a run's own
    ``outputs/<workflow>/<time>``, or for a stage re-run ``<from_run>/reruns/<time>_<stage>``
    (its config and log; the re-run stage's artifacts go to ``from_run`` itself)."""
    if from_run is not None:
        return f"{from_run}/reruns/{now}_{stage}"
    return f"outputs/{folder_name(workflow)}/{now}"


def folder_name(workflow: object) -> str:
    """The workflow's name as a folder name (``scepsy_folder`` resolver of the sweep's job
    folders). Hydra makes the folder before the workflow is validated, so a name that breaks
    the name rule (``../x``, a newline) becomes a valid one here and the run then fails on it,
    inside ``outputs/``."""
    return str(workflow) if is_name(workflow) else suggest_name(workflow)


def register_configs() -> None:
    """Register the schema; ``conf/config.yaml`` lists ``base_config`` first in its defaults.
    Also the ``scepsy_run_dir`` and ``scepsy_folder`` resolvers of Hydra's output folders."""
    ConfigStore.instance().store(name="base_config", node=run_schema())
    OmegaConf.register_new_resolver("scepsy_run_dir", run_dir, replace=True)
    OmegaConf.register_new_resolver("scepsy_folder", folder_name, replace=True)


# ------------------------------------------------------------------ conversion


def to_settings(
    cfg: DictConfig,
    catalog: Catalog,
    *,
    workflow_source: Callable[[str], str],
    workflow_option: str,
    cluster_source: str,
) -> RunSettings:
    """Validate a composed config and freeze it. ``cfg.workflow`` must be set."""
    raw = _resolved(cfg, workflow_source(workflow_option), cluster_source)
    if raw.get("workflow") is None:
        raise ConfigError("no workflow selected", source="config", field="workflow",
                          fix="add +workflow=<name> to the command line")
    workflow = parse_workflow(raw.pop("workflow"), source_of=workflow_source,
                              llm_ids=frozenset(catalog.llms), option=workflow_option)
    cluster = expand_cluster(raw.pop("cluster"), catalog, source=cluster_source)
    # placement.isolation follows emit.mps.isolation and is built first: a malformed value
    # is reported under the key the user sets
    isolation_groups(raw.get("emit", {}).get("mps", {}).get("isolation", ()),
                     ISOLATION_SETTING)
    settings = build(Settings, raw, run={"seed": raw.get("seed", 0)})
    values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(Settings)}
    values.update(cross_references(settings, cluster, catalog))
    check_isolation(settings, workflow)
    return RunSettings(**values, workflow=workflow, cluster=cluster)


def _resolved(cfg: DictConfig, workflow_file: str, cluster_file: str) -> dict[str, Any]:
    """The config as plain containers; an interpolation that does not resolve (``${oops}``)
    is a :class:`ConfigError` naming the file, the key and the interpolation."""
    try:
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except OmegaConfBaseException as exc:
        key = str(getattr(exc, "full_key", "") or "") or None
        group = (key or "").split(".", 1)[0]
        source = {"workflow": workflow_file, "cluster": cluster_file}.get(group, "config")
        problem = str(getattr(exc, "msg", exc)).splitlines()[0]
        raise ConfigError(f"an interpolation does not resolve ({problem})", source=source,
                          field=key, value=_unresolved(cfg, key),
                          fix="write the value itself, or interpolate a key that exists "
                              "(${group.key}); write \\${...} for a literal '${'") from None


def _unresolved(cfg: DictConfig, key: str | None) -> Any:
    """The text of ``key`` before resolution (its interpolation), or None."""
    value: Any = OmegaConf.to_container(cfg, resolve=False)
    for part in re.findall(r"[^.\[\]]+", key or ""):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value if key else None


def cross_references(settings: Settings, cluster: ClusterSpec, catalog: Catalog
                     ) -> dict[str, Any]:
    """The checks between groups, and the values one group takes from another: the reference
    GPU (null: the cluster's), the nodes placement names, one fraction mechanism."""
    work = settings.analyze.work_estimate
    gpu = work.reference_gpu if work.reference_gpu is not None else main_gpu_type(cluster)
    check(gpu in catalog.gpus, "analyze.work_estimate.reference_gpu", "unknown GPU", gpu,
          f"use one of {', '.join(sorted(catalog.gpus))}")
    settings.placement.check_nodes(cluster)
    mechanism = settings.placement.fraction_mechanism
    check(mechanism == settings.emit.fraction_mechanism, "placement.fraction_mechanism",
          "the placement and the manifests must enforce GPU fractions the same way", mechanism,
          f"set emit.fraction_mechanism={mechanism} (placement follows it by default) instead "
          "of placement.fraction_mechanism")
    return {"analyze": dataclasses.replace(
        settings.analyze, work_estimate=dataclasses.replace(work, reference_gpu=gpu))}


def check_isolation(settings: Settings, workflow: WorkflowSpec) -> None:
    """``placement.isolation`` is ``emit.mps.isolation`` (the default follows it), and its
    groups name llms of the workflow (when the workflow declares them; the place stage checks
    recorded traces' llms against the allocation)."""
    groups = settings.emit.mps.isolation
    check(settings.placement.isolation == groups, "placement.isolation",
          "the placement and the manifests must isolate the same llms",
          [list(g) for g in settings.placement.isolation],
          f"set emit.mps.isolation={describe_groups(settings.placement.isolation)} "
          "(placement follows it by default) instead of placement.isolation")
    llms = workflow.llms
    unknown = unknown_llms(groups, llms) if llms else []
    check(not unknown, ISOLATION_SETTING,
          f"names llms that workflow '{workflow.name}' does not call: {', '.join(unknown)}",
          unknown, f"name llms of the workflow: {', '.join(sorted(llms))}")


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
