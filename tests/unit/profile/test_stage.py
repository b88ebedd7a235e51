from pathlib import Path

import pytest

from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.profile_table import ProfileError, make_table, write_csv
from scepsy_opt.core.profiling import ProfileGrid
from scepsy_opt.profile.roofline_backend import RooflineBackend
from scepsy_opt.profile.stage import (
    POINTS,
    ProfileSettings,
    kept_profile_path,
    make_backend,
    profile_llms,
)

DATA = Path(__file__).resolve().parents[2] / "data"
GRID = ProfileGrid(tp_degrees=(1, 2), gpu_fractions=(0.5, 1.0), prefill_batch_sizes=(1,),
                   prefill_prompt_tokens=(512,), decode_batch_sizes=(1,),
                   decode_context_tokens=(1024,), memory_context_tokens=(1024,))


def settings(backend="roofline", path=None, options=(), use_kept=True):
    made = ProfileSettings(
        backend=backend, tp_degrees=GRID.tp_degrees, gpu_fraction_denominator=2,
        **{key: getattr(GRID, key) for key in POINTS}, memory=MemorySettings(), path=path,
        options=tuple(options), use_kept=use_kept, call_mix_size=8)
    assert made.grid == GRID
    return made


def test_every_llm_on_every_gpu(catalog):
    llms = [catalog.llms["llama-3.2-3b-instruct"], catalog.llms["qwen2.5-7b-instruct"]]
    gpus = [catalog.gpus["H100-SXM-80GB"], catalog.gpus["L40S-48GB"]]
    out = profile_llms(llms, gpus, settings())
    assert set(out) == {(llm.id, gpu.id) for llm in llms for gpu in gpus}
    assert all(t.backend == "roofline" for t in out.values())


def test_kept_measured_profiles_replace_the_model(catalog, tmp_path):
    kept = kept_profile_path(tmp_path, "llama-3.2-3b-instruct", "H100-SXM-80GB")
    measured = make_table("llama-3.2-3b-instruct", "H100-SXM-80GB", {"backend": "vllm"}, [
        {"kind": "decode", "tp": 1, "gpu_fraction": 1.0, "status": "ok", "batch_size": 1,
         "context_tokens": 1024, "time_ms": 4.2, "repetitions": 7}])
    write_csv(measured, kept)
    llm, gpu = catalog.llms["llama-3.2-3b-instruct"], catalog.gpus["H100-SXM-80GB"]
    used = profile_llms([llm], [gpu], settings(), kept_dir=tmp_path)[(llm.id, gpu.id)]
    assert used.backend == "vllm" and used.records() == measured.records()
    model = profile_llms([llm], [gpu], settings(use_kept=False), kept_dir=tmp_path)
    assert model[(llm.id, gpu.id)].backend == "roofline"


def test_backend_selection_and_options():
    assert isinstance(make_backend(settings()), RooflineBackend)
    with pytest.raises(ProfileError, match="roofline backend takes no option"):
        make_backend(settings(options=[("repetitions", 3)]))
    vllm = make_backend(settings("vllm", options=[("repetitions", 3), ("rates_rps", [1, 2])]))
    assert vllm.name == "vllm" and vllm.repetitions == 3 and vllm.rates_rps == (1, 2)
    with pytest.raises(ProfileError, match="takes no option.*speed"):
        make_backend(settings("vllm", options=[("speed", "fast")]))


def test_import_backend_through_the_stage(catalog):
    llm, gpu = catalog.llms["llama-3.1-8b-instruct"], catalog.gpus["H100-SXM-80GB"]
    out = profile_llms([llm], [gpu], settings("import", path=str(DATA / "vllm_bench" / "serve")))
    table = out[(llm.id, gpu.id)]
    assert table.backend == "import" and len(table.rows("load")) >= 3


def test_vllm_device_matching():
    from scepsy_opt.profile.vllm_backend import device_matches

    assert device_matches("H100-SXM-80GB", "NVIDIA H100 80GB HBM3")
    assert device_matches("A100-SXM-40GB", "NVIDIA A100-SXM4-40GB")
    assert device_matches("L40S-48GB", "NVIDIA L40S")
    assert not device_matches("H100-SXM-80GB", "NVIDIA A100-SXM4-80GB")
    assert not device_matches("H100-SXM-80GB", "CPU AMD EPYC (2 cores)")
    assert device_matches("cpu", "CPU AMD EPYC (2 cores)")
