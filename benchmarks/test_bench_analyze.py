"""Speed of the analyze stage: sampling and analysing 10,000 beam_search requests.

Target: under 5 s for both together on the 2-core development machine (see RESULTS.md).
Run with `make bench`.
"""

import pytest

from scepsy_opt.core.catalog import load_catalog, load_yaml
from scepsy_opt.core.resources import data_dir
from scepsy_opt.workflow.analyze import analyze_table
from scepsy_opt.workflow.sampler import PerLlmDurations, sample_program
from scepsy_opt.workflow.spec import parse_workflow
from scepsy_opt.workflow.stage import AnalyzeSettings, analyze_workflow
from scepsy_opt.workflow.work import WorkEstimateSettings, work_model

REQUESTS = 10_000
WORK = WorkEstimateSettings("H100-SXM-80GB")


@pytest.fixture(scope="module")
def beam_search():
    catalog = load_catalog()
    path = data_dir("conf") / "workflow" / "beam_search.yaml"
    spec = parse_workflow(load_yaml(path), source_of=lambda _: str(path),
                          llm_ids=frozenset(catalog.llms), option="beam_search")
    gpu = catalog.gpus[WORK.reference_gpu]
    durations = PerLlmDurations({llm: work_model(catalog.llms[llm], gpu)
                                 for llm in spec.llms})
    return catalog, spec, durations


def test_sample_and_analyze_10k_beam_search(benchmark, beam_search):
    catalog, spec, _ = beam_search
    analysis, tables = benchmark.pedantic(
        analyze_workflow, args=(spec, AnalyzeSettings(REQUESTS, 0, WORK), catalog),
        rounds=3, iterations=1, warmup_rounds=0)
    table = tables["beam_search"]
    benchmark.extra_info["calls"] = table.num_calls
    assert analysis.combined.num_requests == REQUESTS


def test_sample_10k_beam_search(benchmark, beam_search):
    _, spec, durations = beam_search
    table = benchmark.pedantic(
        sample_program, args=(spec.program, REQUESTS),
        kwargs={"seed": 0, "durations": durations, "source": "bench"}, rounds=3, iterations=1)
    benchmark.extra_info["calls"] = table.num_calls


def test_analyze_10k_beam_search(benchmark, beam_search):
    _, spec, durations = beam_search
    table = sample_program(spec.program, REQUESTS, seed=0, durations=durations, source="bench")
    stats = benchmark.pedantic(analyze_table, args=(table,),
                               kwargs={"workflow": "beam_search", "duration_model": "work"},
                               rounds=3, iterations=1)
    benchmark.extra_info["calls"] = table.num_calls
    assert stats.num_requests == REQUESTS
