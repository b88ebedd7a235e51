"""Command line: ``python -m scepsy_opt +workflow=NAME [overrides...]`` (Hydra).

The CLI is the face: it composes the settings, decides where files go (Hydra's run directory)
and prints; the stage runner (:mod:`scepsy_opt.pipeline`) runs and writes the stages, and
:mod:`scepsy_opt.console` renders what they made. A
:class:`~scepsy_opt.core.errors.ScepsyError` is printed as one message without a traceback and
the process exits with :data:`~scepsy_opt.core.errors.EXIT_CODE`; in a sweep (``--multirun``)
the failed job's error goes to its ``error.json`` and the sweep goes on, and
:class:`SweepSummary` summarises the jobs at the end. ``from_run=<dir> stage=<name>`` re-runs a
stage from a run directory's artifacts (:func:`rerun`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import hydra
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from scepsy_opt import argv, console, pipeline, rundir
from scepsy_opt.config import register_configs, to_settings
from scepsy_opt.core.artifacts import atomic_write_json
from scepsy_opt.core.catalog import load_catalog, load_yaml
from scepsy_opt.core.documents import PlacementDocument
from scepsy_opt.core.errors import EXIT_CODE, ConfigError, EmitError, ScepsyError
from scepsy_opt.core.parallel import install_interrupt_handler, interrupt_acted_on

log = logging.getLogger("scepsy_opt")


INTERRUPTED = 130  # the exit status of a run stopped by Ctrl-C (128 + SIGINT)


def _fail(error: ScepsyError | str, code: int = EXIT_CODE) -> None:
    print(error if isinstance(error, str) else f"error: {error}", file=sys.stderr)
    raise SystemExit(code)


def _workflow_source(option: str) -> str:
    for source in HydraConfig.get().runtime.config_sources:
        if source.schema == "file":
            candidate = Path(source.path) / "workflow" / f"{option}.yaml"
            if candidate.is_file():
                return str(candidate)
    return f"workflow '{option}'"


def _group_source(group: str, option: str | None = None) -> str:
    option = option or HydraConfig.get().runtime.choices.get(group)
    for source in HydraConfig.get().runtime.config_sources:
        if source.schema == "file":
            candidate = Path(source.path) / group / f"{option}.yaml"
            if candidate.is_file():
                return str(candidate)
    return f"{group} '{option}'"


def _available_workflows() -> list[str]:
    loader = GlobalHydra.instance().config_loader()
    return sorted(loader.get_group_options("workflow"))


@hydra.main(config_path=str(argv.CONF_DIR), config_name="config", version_base="1.3")
def _hydra_entry(cfg: DictConfig) -> None:
    try:
        _run(cfg)
    except pipeline.Interrupted as stop:  # Ctrl-C in a stage: keep the finished ones
        _fail(pipeline.save_interrupted(stop, stop.run_dir or Path(
            HydraConfig.get().runtime.output_dir)), INTERRUPTED)
    except Exception as error:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            if isinstance(error, ScepsyError):
                _fail(error)
            raise
        # one job of a sweep: record the error for the sweep summary, go on with the next
        # (a defect's traceback goes to the job's log); the sweep exits non-zero at the end
        output_dir = Path(HydraConfig.get().runtime.output_dir)
        atomic_write_json(output_dir / rundir.JOB_ERROR, {"error": str(error),
                                                          "type": type(error).__name__})
        if isinstance(error, ScepsyError):
            log.error("job %s failed: %s", HydraConfig.get().job.num, error)
        else:
            log.exception("job %s failed (a defect: please report it)",
                          HydraConfig.get().job.num)


def _run(cfg: DictConfig) -> None:
    """One run: the pipeline, a stage re-run (``from_run``) or an emit from a placement."""
    if cfg.from_run is not None:
        rerun(cfg)
        return
    if cfg.workflow is None:
        names = ", ".join(_available_workflows())
        raise ConfigError("no workflow selected", source="command line", field="workflow",
                          fix=f"add +workflow=<name>; shipped workflows: {names}")
    catalog = load_catalog()
    settings = to_settings(
        cfg, catalog,
        workflow_source=_workflow_source,
        workflow_option=HydraConfig.get().runtime.choices.get("workflow"),
        cluster_source=_group_source("cluster"),
    )
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    if settings.emit.placement is not None:
        path = Path(settings.emit.placement).expanduser()
        placement = rundir.read_document(
            path, PlacementDocument, "emit.placement",
            "point emit.placement at the placement.json of a run", EmitError)
        result = pipeline.emit_placement(placement, str(path), settings, catalog)
        print(console.view(result, pipeline.save(result, run_dir, settings), run_dir))
        return
    result = pipeline.run(settings, catalog)
    print(console.view(result, pipeline.save(result, run_dir, settings), run_dir,
                       result.allocation))


def _override_key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


NOT_CARRIED = ("stop_after", "from_run", "stage", "emit.placement")


def rerun_overrides(earlier: Sequence[str], current: Sequence[str]) -> list[str]:
    """The earlier run's overrides, then this command line's (which win). Hydra's own
    settings except the config search path stay with the command line that gave them, and
    where the earlier run stopped (``stop_after``) does not carry over: a run that stopped
    after the search goes on with ``stage=place``."""
    def keep(override: str) -> bool:
        key = _override_key(override)
        return not key.startswith("hydra.") or key == "hydra.searchpath"

    mine = {_override_key(o) for o in current}
    return ([o for o in earlier if keep(o) and _override_key(o) not in mine
             and _override_key(o) not in NOT_CARRIED]
            + [o for o in current if keep(o)])


def _option(overrides: Sequence[str], group: str) -> str | None:
    values = [o.split("=", 1)[1] for o in overrides if _override_key(o) == group and "=" in o]
    return values[-1] if values else None


def rerun(cfg: DictConfig) -> None:
    """``from_run=<dir> stage=<place|emit|report>``: the runner's re-run
    (:func:`scepsy_opt.pipeline.rerun`) with the earlier run's overrides, then this command
    line's; its artifacts are written back into the run directory."""
    from hydra import compose

    run_dir = Path(str(cfg.from_run)).expanduser()  # a run's directory: argv.prepare
    saved = run_dir / ".hydra" / "overrides.yaml"
    earlier = [str(o) for o in (load_yaml(saved) or [])] if saved.is_file() else []
    given = HydraConfig.get().overrides  # the search path (argv.prepare) composes again
    overrides = rerun_overrides(earlier, list(given.task) + [
        o for o in given.hydra if _override_key(o) == argv.SEARCHPATH])
    composed = compose(config_name="config", overrides=overrides)
    if composed.workflow is None:
        raise ConfigError("no workflow selected", source=str(saved), field="workflow",
                          fix="add +workflow=<name> (the run directory has no "
                              ".hydra/overrides.yaml naming it)")
    catalog = load_catalog()
    settings = to_settings(composed, catalog, workflow_source=_workflow_source,
                           workflow_option=_option(overrides, "workflow") or "",
                           cluster_source=_group_source("cluster", _option(overrides, "cluster")))
    result = pipeline.rerun(settings, catalog, run_dir)
    paths = pipeline.save(result, run_dir, settings)
    allocation = result.allocation or rundir.load_artifact(run_dir, "allocation.json", None)
    print(console.view(result, paths, run_dir, allocation))


class SweepSummary(Callback):
    """Hydra callback (``hydra.callbacks`` in ``conf/config.yaml``): when a multirun ends, the
    sweep directory gets ``sweep_summary.csv`` (one row per job: target, GPUs, predicted and
    simulated latency, or the job's error) and ``sweep_summary.png``."""

    failed: list[str] = []  # the jobs without a plan, read back when the sweep ends

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            paths, SweepSummary.failed[:] = rundir.write_sweep_summary(sweep_dir)
        except ScepsyError as error:
            log.error("no sweep summary: %s", error)
            return
        for path in paths:
            print(f"wrote {path}")


class OutputCheck(Callback):
    """Hydra callback: a run directory that cannot be written is a clear error before Hydra
    writes its own files there (which ends in Hydra's traceback)."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        try:
            rundir.check_writable(Path(str(config.hydra.run.dir)))
        except ScepsyError as error:
            _fail(error)


def main() -> None:
    install_interrupt_handler()
    register_configs()
    try:
        sys.argv[1:] = argv.prepare(sys.argv[1:])
    except ScepsyError as error:
        _fail(error)
    try:
        _hydra_entry()
    except KeyboardInterrupt:  # outside a stage: before the first, or while writing
        interrupt_acted_on()
        _fail("interrupted: nothing partial was written (a run's outputs are committed "
              "together at its end); the fits cached so far are kept", INTERRUPTED)
    if SweepSummary.failed:
        _fail(f"error: {len(SweepSummary.failed)} job(s) of the sweep failed: "
              + "; ".join(SweepSummary.failed))


if __name__ == "__main__":
    main()
