import numpy as np
import pytest

from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.profile_table import read_csv, write_csv
from scepsy_opt.core.profiling import ProfileGrid, ProfileRequest
from scepsy_opt.core.roofline import Arch, Hardware, RooflineModel, roofline_params
from scepsy_opt.core.topology import tp_problem
from scepsy_opt.profile.roofline_backend import RooflineBackend

GRID = ProfileGrid(tp_degrees=(1, 2, 4, 8), gpu_fractions=(0.25, 0.5, 1.0),
                   prefill_batch_sizes=(1, 16), prefill_prompt_tokens=(512, 8192),
                   decode_batch_sizes=(1, 256), decode_context_tokens=(2048, 32768),
                   memory_context_tokens=(2048,))


def profile(catalog, llm, gpu, grid=GRID):
    return RooflineBackend().profile(ProfileRequest(catalog.llms[llm], catalog.gpus[gpu], grid))


def test_rows_match_the_model_and_the_memory_plan(catalog, tmp_path):
    table = profile(catalog, "llama-3.1-8b-instruct", "H100-SXM-80GB")
    model = RooflineModel(Arch.of(catalog.llms["llama-3.1-8b-instruct"]),
                          Hardware.of(catalog.gpus["H100-SXM-80GB"]),
                          roofline_params("H100-SXM-80GB"))
    prefill = table.rows("prefill")
    row = (prefill["tp"] == 2) & (prefill["gpu_fraction"] == 0.5) & (
        prefill["batch_size"] == 16) & (prefill["prompt_tokens"] == 512)
    assert prefill["time_ms"][row][0] == pytest.approx(float(model.prefill_ms(2, 16, 512, 0.5)))
    assert len(table.rows("memory")) == 12  # every configuration: 4 TP x 3 fractions
    assert table.backend == "roofline" and "calibration" in dict(table.env)["parameters"]
    write_csv(table, tmp_path / "p.csv")
    assert read_csv(tmp_path / "p.csv").records() == table.records()


def test_points_beyond_limits_are_infeasible_with_a_reason(catalog):
    table = profile(catalog, "llama-3.1-8b-instruct", "H100-SXM-80GB")
    decode = table.select(table["kind"] == "decode")
    over = decode.select(decode["context_tokens"] == 32768)
    # 256 x 32768 tokens do not fit any KV cache of this grid; 1 x 32768 fits on whole GPUs
    big = over.select(over["batch_size"] == 256)
    assert set(big["status"]) == {"infeasible"}
    assert all("beyond the KV capacity" in e for e in big["error"])
    small = over.select((over["batch_size"] == 1) & (over["gpu_fraction"] == 1.0))
    assert set(small["status"]) == {"ok"}


def test_configurations_that_cannot_hold_the_llm(catalog):
    table = profile(catalog, "llama-3.1-70b-instruct", "H100-SXM-80GB")
    memory = table.rows("memory", status="infeasible")
    assert (1, 1.0) in memory.configurations()  # 141 GB of weights on one GPU
    assert all("exceed the budget" in e for e in memory["error"])
    feasible = table.rows("memory").configurations()
    assert (4, 1.0) in feasible and (1, 1.0) not in feasible
    assert not (table.rows("prefill")["tp"] == 1).any()


def test_heads_not_divisible_by_tp(catalog):
    llm = catalog.llms["qwen2.5-7b-instruct"]  # 28 heads, 4 KV heads
    assert tp_problem(llm, 8) == "qwen2.5-7b-instruct has 28 attention heads, not divisible by TP 8"
    assert tp_problem(llm, 4) == ""
    table = profile(catalog, "qwen2.5-7b-instruct", "H100-SXM-80GB")
    tp8 = table.select(table["tp"] == 8)
    assert set(tp8["kind"]) == {"memory"} and set(tp8["status"]) == {"infeasible"}


def test_full_default_grid_is_monotone_in_batch(catalog):
    table = profile(catalog, "qwen2.5-32b-instruct", "A100-SXM-80GB", ProfileGrid())
    decode = table.rows("decode")
    for (tp, fraction) in decode.configurations():
        for context in np.unique(decode["context_tokens"]):
            mask = (decode["tp"] == tp) & (decode["gpu_fraction"] == fraction) & (
                decode["context_tokens"] == context)
            order = np.argsort(decode["batch_size"][mask])
            assert np.all(np.diff(decode["time_ms"][mask][order]) >= 0)


def test_memory_settings_change_capacity(catalog):
    request = ProfileRequest(catalog.llms["llama-3.1-8b-instruct"],
                             catalog.gpus["H100-SXM-80GB"], GRID,
                             memory=MemorySettings(memory_utilization=0.5))
    low = RooflineBackend().profile(request).rows("memory")
    high = profile(catalog, "llama-3.1-8b-instruct", "H100-SXM-80GB").rows("memory")
    assert low["kv_capacity_tokens"].max() < high["kv_capacity_tokens"].max()


def test_scoring_llms_have_no_decode_rows(catalog):
    table = profile(catalog, "bge-reranker-v2-gemma", "H100-SXM-80GB")
    assert len(table.rows("prefill")) > 0 and len(table.rows("decode")) == 0
