"""Speed of the roofline profiler: the profile grid of 12 catalog llms x 4 GPU types x TP
{1, 2, 4, 8} x 8 GPU fractions (the default grid of points per configuration).

Target: under 10 s on the 2-core development machine (see RESULTS.md). Run with `make bench`.
"""

from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.core.profiling import ProfileGrid, ProfileRequest
from scepsy_opt.profile.roofline_backend import RooflineBackend

LLMS = ("llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.1-8b-instruct",
        "llama-3.1-70b-instruct", "llama-3.2-3b-instruct", "qwen2.5-7b-instruct",
        "qwen2.5-14b-instruct", "qwen2.5-32b-instruct", "qwen2.5-72b-instruct",
        "mistral-7b-instruct-v0.3", "bge-reranker-v2-gemma")
GPUS = ("H100-SXM-80GB", "H200-141GB", "A100-SXM-80GB", "L40S-48GB")


def profile_grid() -> int:
    catalog = load_catalog()
    backend = RooflineBackend()
    grid = ProfileGrid()
    rows = 0
    for llm in LLMS:
        for gpu in GPUS:
            table = backend.profile(ProfileRequest(catalog.llms[llm], catalog.gpus[gpu], grid))
            rows += len(table)
    return rows


def test_roofline_grid_12_llms_4_gpus(benchmark):
    rows = benchmark.pedantic(profile_grid, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["rows"] = rows
    benchmark.extra_info["configurations"] = len(LLMS) * len(GPUS) * 4 * 8
    assert rows > 12 * 4 * 32
