"""Speed and quality of the place stage (see RESULTS.md; run with `make bench`).

- a 16-GPU plan (2 x DGX H100, 5 llms, mixed TP degrees and fractions): solved to optimality,
  target under 1 s;
- a 512-GPU plan (h100_x64, 20 llms, about 220 instances of TP 1-8 with fractions): gap at most
  1%, target under 30 s (the default preset's 60 s limit caps it);
- the brute-force agreement count on random tiny problems is in tests, not here.

Build and solve times are recorded separately in ``extra_info`` (no timing assertions).
"""

import pytest

from scepsy_opt.core.catalog import expand_cluster, load_catalog, load_yaml
from scepsy_opt.core.presets import read_preset
from scepsy_opt.core.resources import data_dir
from scepsy_opt.placement.stage import PlaceSettings, place
from scepsy_opt.placement.verify import verify
from scepsy_opt.testing.placement import mixed_problem, plan_like_problem


def cluster(name):
    return expand_cluster(load_yaml(data_dir("conf") / "cluster" / f"{name}.yaml"),
                          load_catalog(), source=name)


@pytest.fixture(scope="module")
def settings():
    return PlaceSettings(read_preset(data_dir("solvers") / "default.opt"))


def record(benchmark, result):
    verify(result.problem, result.placement)
    if benchmark.stats is None:
        return
    info = benchmark.extra_info
    info.update(method=result.method, status=result.status, gap=result.gap,
                instances=result.problem.num_instances, gpus_used=result.metrics.gpus_used,
                fragmented_gpus=result.metrics.fragmented_gpus,
                anti_affinity_excess=result.metrics.anti_affinity_excess,
                build_s=sum(r.build_s for r in result.solves),
                solve_s=sum(r.solve_s for r in result.solves),
                solves=len(result.solves))


def test_place_16_gpu_plan(benchmark, settings):
    problem = mixed_problem(0, cluster("dgx_h100_x2"), llms=5, instances=12)
    result = benchmark.pedantic(place, args=(problem, settings), rounds=5, iterations=1)
    assert result.status == "optimal" and result.method == "milp"
    record(benchmark, result)


def test_place_512_gpu_plan(benchmark, settings):
    problem = plan_like_problem(0, cluster("h100_x64"))
    assert problem.num_instances >= 200
    result = benchmark.pedantic(place, args=(problem, settings), rounds=1, iterations=1)
    assert result.method == "milp_hierarchical"
    record(benchmark, result)
