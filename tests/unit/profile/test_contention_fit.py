"""The shipped contention parameters are the fit of the shipped measurements."""

import pytest

from scepsy_opt.core.contention import load_contention_params
from scepsy_opt.core.roofline import load_roofline_params
from scepsy_opt.profile import contention


def test_the_shipped_parameters_are_what_the_fit_gives():
    fitted = contention.fit()
    shipped = load_contention_params()
    assert set(fitted) == set(shipped) == set(load_roofline_params())
    for gpu, params in fitted.items():
        assert params.pool_fraction == pytest.approx(shipped[gpu].pool_fraction, abs=1e-9)
        assert params.kappa == pytest.approx(shipped[gpu].kappa, abs=1e-9)
        assert params.source == shipped[gpu].source


def test_the_fit_reports_every_case_and_holds_out_the_loaded_ones():
    results = contention.evaluate(load_contention_params())
    by_id = {r.id: r for r in results}
    assert {r.id for r in results if r.fitted_on} == set(contention.FIT_CASES)
    assert len(results) - len(contention.FIT_CASES) >= 3
    # the published one-request case, and the dedicated GPU it is compared with
    low = by_id["dynamo_a100_40gb_2x_qwen3_4b_c1"]
    assert abs(low.error) <= 0.15
    assert low.alone_predicted_ms == pytest.approx(low.alone_measured_ms, rel=0.15)
    report = contention.report(results)
    assert report.count("held out") == len(results) - len(contention.FIT_CASES)


def test_the_pool_is_bounded_by_the_gpu_bandwidth(tmp_path, monkeypatch):
    data = contention.load_measurements()
    # a measurement asking for more than the GPU has: the fit stops at the bound
    for case in data["cases"]:
        case["measured_ms"] *= 0.5
    params = contention.fit(data)
    assert all(p.pool_fraction == 1.0 for p in params.values())
    path = contention.write_params(params, tmp_path / "params.yaml")
    load_contention_params.cache_clear()
    try:
        loaded = load_contention_params(path)
    finally:
        load_contention_params.cache_clear()
    assert {g: p.pool_fraction for g, p in loaded.items()} == {g: 1.0 for g in params}
