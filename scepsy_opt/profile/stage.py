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
from typing import Any, Literal

from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.profile_table import ProfileError, ProfileTable, read_csv
from scepsy_opt.core.profiling import CallMix, ProfileGrid, ProfilerBackend, ProfileRequest
from scepsy_opt.core.progress import Progress
from scepsy_opt.core.settings import check, normalise, positive_ints
from scepsy_opt.core.types import TP_DEGREES, GpuSpec, LlmSpec

log = logging.getLogger(__name__)
KEPT_FOLDER = "profiles"


def kept_profile_path(models_dir: Path, llm: str, gpu: str) -> Path:
    """Where measured data worth keeping lives: ``models/<llm>/profiles/<gpu>.csv``."""
    return models_dir / llm / KEPT_FOLDER / f"{gpu}.csv"


@dataclass(frozen=True)
class ProfileSettings:
    """The profile stage (``conf/profile``).

    - ``backend``: ``roofline`` (the calibrated analytical model, no hardware), ``vllm`` (real
      measurement with vLLM's engine and dummy weights on the local device) or ``import``
      (``vllm bench serve`` / ``vllm bench latency`` JSON results at ``path``, a file or a
      folder; ``options`` fill what the files lack: tp, gpu_fraction, gpu, llm, batch_size,
      input_len, output_len, infinite_rate). ``options`` of vllm:
      :class:`~scepsy_opt.profile.vllm_backend.VllmBackend`'s (repetitions, warmup, ...).
    - Configurations: every TP degree of ``tp_degrees`` x GPU fraction
      ``k / gpu_fraction_denominator``, k = 1..denominator (7: MIG slices); points per
      configuration: the batch sizes, prompt and context lengths below (:attr:`grid`).
    - ``memory``: the instance memory model and engine limits.
    - ``use_kept``: use a kept measured profile (models/<llm>/profiles/<gpu>.csv) instead of
      the model when one exists. ``call_mix_size``: calls of the workflow each llm's profile
      replays (the call mix).
    """

    backend: Literal["roofline", "vllm", "import"] = "roofline"
    tp_degrees: tuple[int, ...] = (1, 2, 4, 8)
    gpu_fraction_denominator: Literal[1, 2, 4, 7, 8, 16] = 8
    prefill_batch_sizes: tuple[int, ...] = (1, 4, 16)
    prefill_prompt_tokens: tuple[int, ...] = (128, 512, 2048, 8192)
    decode_batch_sizes: tuple[int, ...] = (1, 8, 32, 128, 256)
    decode_context_tokens: tuple[int, ...] = (512, 2048, 8192)
    memory_context_tokens: tuple[int, ...] = (512, 2048, 8192)
    memory: MemorySettings = MemorySettings()
    path: str | None = None
    options: tuple[tuple[str, Any], ...] = ()
    use_kept: bool = True
    call_mix_size: int = 64

    def __post_init__(self) -> None:
        check(bool(self.tp_degrees) and all(tp in TP_DEGREES for tp in self.tp_degrees),
              "tp_degrees", "unsupported tensor-parallel degree", list(self.tp_degrees),
              f"choose among {list(TP_DEGREES)}")
        for key in POINTS:
            positive_ints(getattr(self, key), key)
            normalise(self, key, tuple(sorted(set(getattr(self, key)))))
        normalise(self, "tp_degrees", tuple(sorted(set(self.tp_degrees))))
        normalise(self, "options", tuple(sorted(self.options)))
        check(self.backend != "import" or self.path not in (None, "", "???"), "path",
              "the import backend needs profile.path", self.path,
              "set profile.path=<vllm bench result file or folder>")
        check(self.call_mix_size > 0, "call_mix_size", "must be > 0", self.call_mix_size,
              "replay at least one call")

    @property
    def grid(self) -> ProfileGrid:
        """The points every configuration's profile covers."""
        denominator = self.gpu_fraction_denominator
        return ProfileGrid(
            tp_degrees=self.tp_degrees,
            gpu_fractions=tuple(k / denominator for k in range(1, denominator + 1)),
            **{key: getattr(self, key) for key in POINTS})


POINTS = ("prefill_batch_sizes", "prefill_prompt_tokens", "decode_batch_sizes",
          "decode_context_tokens", "memory_context_tokens")



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
