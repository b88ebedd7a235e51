"""The shipped roofline parameters meet the accuracy targets on held-aside calibration data."""

import pytest

from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.core.roofline import Hardware, load_roofline_params
from scepsy_opt.profile import calibrate


@pytest.fixture(scope="module")
def report():
    return calibrate.error_report(load_roofline_params())


def test_splits_hold_out_whole_llms():
    for split in (*calibrate.OPS_SPLIT.values(), *calibrate.E2E_SPLIT.values()):
        assert split["train"] and split["test"]
        assert not set(split["train"]) & set(split["test"])


def test_per_layer_error_on_held_out_llms_is_at_most_15_percent(report):
    rows = [e for e in report if e.what == "layer" and e.split == "test"]
    assert {(e.gpu, e.tp) for e in rows} == {(g, tp) for g in ("A100-SXM-80GB", "H100-SXM-80GB")
                                             for tp in (1, 2, 4, 8)}
    for e in rows:
        assert e.mape_pct <= 15.0, e


def test_end_to_end_error_on_held_out_llms_is_at_most_25_percent(report):
    rows = [e for e in report if e.what == "end-to-end" and e.split == "test"]
    assert {e.gpu for e in rows} == {"A100-SXM-40GB", "GH200-96GB"}
    assert {e.tp for e in rows if e.gpu == "A100-SXM-40GB"} == {1, 2, 4}
    for e in rows:
        assert e.mape_pct <= 25.0, e


def test_all_reduce_error_on_held_out_sizes(report):
    rows = [e for e in report if e.what == "all-reduce" and e.split == "test"]
    assert len(rows) >= 7
    for e in rows:
        assert e.mape_pct <= 20.0, e


def test_report_formats_as_markdown(report):
    text = calibrate.format_report(report)
    assert text.splitlines()[0].startswith("| quantity |") and "MAPE" in text


def test_refitting_the_operators_reproduces_the_shipped_parameters():
    data = calibrate.load_ops("h100")
    train = [g for m in calibrate.OPS_SPLIT["h100"]["train"] for g in data[m]]
    fitted = calibrate.fit_ops(train, Hardware.of(load_catalog().gpus["H100-SXM-80GB"]))
    shipped = load_roofline_params()["H100-SXM-80GB"].as_mapping()
    for key, value in fitted.items():
        assert value == pytest.approx(shipped[key], rel=0.02), key


def test_all_reduce_fit_recovers_a_known_line():
    import numpy as np

    size = np.geomspace(1e3, 1e8, 50)
    truth = calibrate.AllReduceFit(4, latency_us=12.0, bus_gb_s=200.0)
    data = calibrate.AllReduceData("synthetic", 4, size, calibrate.allreduce_ms(size, truth))
    fit = calibrate.fit_allreduce(data, every=slice(None))
    assert fit.latency_us == pytest.approx(12.0, rel=1e-6)
    assert fit.bus_gb_s == pytest.approx(200.0, rel=1e-6)
