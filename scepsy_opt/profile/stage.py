"""The profile stage's entry: profile tables of llms on GPU types with the configured backend.

A kept measured profile (``models/<llm>/profiles/<gpu>.csv``) replaces the roofline model when
``use_kept`` is set and one exists; the vllm and import backends always measure or import.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.profile_table import ProfileError, ProfileTable, read_csv
from scepsy_opt.core.profiling import CallMix, ProfileGrid, ProfilerBackend, ProfileRequest
from scepsy_opt.core.progress import Progress
from scepsy_opt.core.types import GpuSpec, LlmSpec

log = logging.getLogger(__name__)
KEPT_FOLDER = "profiles"


def kept_profile_path(models_dir: Path, llm: str, gpu: str) -> Path:
    """Where measured data worth keeping lives: ``models/<llm>/profiles/<gpu>.csv``."""
    return models_dir / llm / KEPT_FOLDER / f"{gpu}.csv"


@dataclass(frozen=True)
class ProfileSettings:
    """The profile stage's settings (``conf/profile``)."""

    backend: str
    grid: ProfileGrid
    memory: MemorySettings
    path: str | None
    options: tuple[tuple[str, Any], ...]
    use_kept: bool
    call_mix_size: int



def make_backend(settings: ProfileSettings) -> ProfilerBackend:
    """The backend named by ``settings.backend`` with its options."""
    options = dict(settings.options)
    if settings.backend == "roofline":
        _check_options(options, (), "roofline")
        from scepsy_opt.profile.roofline_backend import RooflineBackend

        return RooflineBackend()
    if settings.backend == "import":
        from scepsy_opt.profile.import_backend import ImportBackend

        return ImportBackend(path=Path(settings.path or ""), options=options)
    from scepsy_opt.profile.vllm_backend import VllmBackend

    fields = tuple(f.name for f in dataclasses.fields(VllmBackend) if f.init)
    _check_options(options, fields, "vllm")
    for key, value in options.items():
        if isinstance(value, list):
            options[key] = tuple(value)
    return VllmBackend(**options)


def _check_options(options: Mapping[str, Any], allowed: Sequence[str], backend: str) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ProfileError(f"the {backend} backend takes no option(s) {', '.join(unknown)}",
                           source="config", field="profile.options", value=dict(options),
                           fix=f"use only {', '.join(allowed)}" if allowed
                           else "remove profile.options")


def profile_llms(
    llms: Sequence[LlmSpec],
    gpus: Sequence[GpuSpec],
    settings: ProfileSettings,
    *,
    call_mixes: Mapping[str, CallMix] | None = None,
    kept_dir: Path | None = None,
) -> dict[tuple[str, str], ProfileTable]:
    """Profile every llm on every GPU type; keyed by ``(llm id, gpu id)``."""
    backend = make_backend(settings)
    call_mixes = call_mixes or {}
    out: dict[tuple[str, str], ProfileTable] = {}
    progress = Progress("profile", len(llms) * len(gpus), log)
    for llm in llms:
        for gpu in gpus:
            kept = kept_profile_path(kept_dir, llm.id, gpu.id) if kept_dir else None
            if settings.use_kept and settings.backend == "roofline" and kept and kept.is_file():
                log.info("profile %s on %s: using the kept measured profile %s", llm.id, gpu.id,
                         kept)
                table = read_csv(kept)
            else:
                request = ProfileRequest(llm=llm, gpu=gpu, grid=settings.grid,
                                         memory=settings.memory,
                                         call_mix=call_mixes.get(llm.id))
                chosen = backend
                if settings.backend == "vllm" and llm.task != "generate":
                    log.warning("profile %s on %s: the vllm backend measures generating llms "
                                "only; this %s llm gets the roofline model", llm.id, gpu.id,
                                llm.task)
                    chosen = make_backend(dataclasses.replace(settings, backend="roofline",
                                                              options=()))
                table = chosen.profile(request)
            out[(llm.id, gpu.id)] = table
            progress.advance(note=f"{llm.id} on {gpu.id} ({settings.backend})")
    return out
