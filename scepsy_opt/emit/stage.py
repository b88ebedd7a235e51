"""The emit stage's entry: :func:`emit` renders a placed plan into launch manifests.

Steps: the placed instances are re-checked across the stacks and turned into one record per
instance (:func:`~scepsy_opt.emit.record.launch_plan`); every format of ``emit.formats`` is
rendered by its :class:`~scepsy_opt.emit.base.Emitter` and validated offline (Kubernetes
objects against the Kubernetes schemas, vLLM configs against ``vllm serve``'s options, the Ray
Serve config and the plan against their JSON schemas). Nothing is written here: the result maps
paths to texts, and the CLI writes them (the manifests tree as a whole, atomically).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scepsy_opt.core.errors import EmitError, UnsupportedPlanError
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.types import Catalog, ClusterSpec
from scepsy_opt.emit.base import Emitter
from scepsy_opt.emit.kubernetes import KubernetesEmitter
from scepsy_opt.emit.plan import PlanEmitter
from scepsy_opt.emit.ray_serve import RayServeEmitter
from scepsy_opt.emit.record import LaunchPlan, PlannedInstance, launch_plan
from scepsy_opt.emit.settings import FORMATS, EmitSettings
from scepsy_opt.emit.vllm import VllmEmitter

log = logging.getLogger(__name__)


def make_emitter(fmt: str, settings: EmitSettings, catalog: Catalog | None = None) -> Emitter:
    """The emitter of format ``fmt`` (one of :data:`~scepsy_opt.emit.settings.FORMATS`); the
    catalog gives the Kubernetes emitter the llms' weight sizes (host memory of the pods)."""
    if fmt == "vllm":
        return VllmEmitter()
    if fmt == "kubernetes":
        weights = {llm.id: llm.weight_gib for llm in catalog.llms.values()} if catalog else None
        return KubernetesEmitter(settings.kubernetes, weights)
    if fmt == "ray_serve":
        return RayServeEmitter()
    if fmt == "plan":
        return PlanEmitter()
    raise EmitError("unknown manifest format", source="config", field="emit.formats",
                    value=fmt, fix=f"use some of {', '.join(FORMATS)}")


NOT_EMITTED = "NOT_EMITTED.md"


def _not_emitted(fmt: str, error: UnsupportedPlanError) -> str:
    return (f"# No {fmt} manifests for this plan\n\n{error.problem}\n\n"
            f"Fix: {error.fix}\n\nThe default emit.formats (every format) writes this note for "
            "a format whose stack cannot run the plan as placed; listing the format in "
            "emit.formats makes the run fail instead.\n")


@dataclass(frozen=True)
class EmittedFile:
    """One rendered, validated file: ``path`` inside its format's ``folder`` of
    ``manifests/`` (``folder`` empty: the run directory)."""

    format: str
    folder: str
    path: str
    text: str


@dataclass(frozen=True, eq=False)
class EmitResult:
    """The records and the rendered files of every requested format."""

    plan: LaunchPlan
    files: tuple[EmittedFile, ...]

    def manifests(self) -> dict[str, str]:
        """Files of the ``manifests/`` tree: ``{"<folder>/<path>": text}``."""
        return {f"{f.folder}/{f.path}": f.text for f in self.files if f.folder}

    def top_level(self) -> dict[str, str]:
        """Files of the run directory itself (``plan.json``)."""
        return {f.path: f.text for f in self.files if not f.folder}

    def by_format(self, fmt: str) -> dict[str, str]:
        return {f.path: f.text for f in self.files if f.format == fmt}


def emit(instances: Sequence[PlannedInstance], cluster: ClusterSpec, catalog: Catalog,
         memory: MemorySettings, settings: EmitSettings, *, workflow: str, source: str,
         context_tokens: Mapping[str, int] | None = None) -> EmitResult:
    """Records of ``instances`` and the validated manifests of ``settings.formats``.

    Raises :class:`~scepsy_opt.core.errors.EmitError` (naming the input, the value and the fix)
    when the plan breaks a cross-stack rule or a manifest fails its schema.
    """
    plan = launch_plan(instances, cluster, catalog, memory, settings, workflow=workflow,
                       source=source, context_tokens=context_tokens)
    files: list[EmittedFile] = []
    for fmt in dict.fromkeys(settings.formats):
        emitter = make_emitter(fmt, settings, catalog)
        try:
            rendered = emitter.render(plan)
        except UnsupportedPlanError as exc:
            if tuple(settings.formats) != FORMATS or not emitter.folder:
                raise
            log.warning("emit: no %s manifests: %s", fmt, exc)
            files.append(EmittedFile(fmt, emitter.folder, NOT_EMITTED, _not_emitted(fmt, exc)))
            continue
        emitter.validate(rendered)
        files += [EmittedFile(fmt, emitter.folder, path, text)
                  for path, text in sorted(rendered.items())]
        log.info("emit: %d %s file(s) rendered and validated", len(rendered), fmt)
    return EmitResult(plan, tuple(files))
