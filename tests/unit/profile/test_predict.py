import pytest

from scepsy_opt.core.errors import CatalogError
from scepsy_opt.core.profile_table import ProfileError
from scepsy_opt.profile import RequestPrediction, predict_request


def test_prediction_fields_and_single_wave_identity():
    p = predict_request("llama-3.1-8b-instruct", "H100-SXM-80GB", 1, 4, 1000, 200)
    assert isinstance(p, RequestPrediction)
    assert p.running_sequences == 4
    assert p.e2e_ms == pytest.approx(p.ttft_ms + 199 * p.tpot_ms)
    assert 0 < p.ttft_ms < p.e2e_ms


def test_latencies_order_as_physics_says():
    base = predict_request("qwen2.5-14b-instruct", "A100-SXM-80GB", 1, 8, 1024, 128)
    longer = predict_request("qwen2.5-14b-instruct", "A100-SXM-80GB", 1, 8, 4096, 128)
    bigger = predict_request("qwen2.5-14b-instruct", "A100-SXM-80GB", 1, 32, 1024, 128)
    half = predict_request("qwen2.5-14b-instruct", "A100-SXM-80GB", 1, 8, 1024, 128,
                           gpu_fraction=0.5)
    faster_gpu = predict_request("qwen2.5-14b-instruct", "H100-SXM-80GB", 1, 8, 1024, 128)
    assert longer.ttft_ms > base.ttft_ms and longer.e2e_ms > base.e2e_ms
    assert bigger.e2e_ms > base.e2e_ms
    assert half.e2e_ms > base.e2e_ms
    assert faster_gpu.e2e_ms < base.e2e_ms


def test_waves_when_the_kv_cache_is_full():
    p = predict_request("llama-3.1-8b-instruct", "A100-SXM-40GB", 1, 256, 4096, 4096)
    assert p.running_sequences < 256
    single = predict_request("llama-3.1-8b-instruct", "A100-SXM-40GB", 1,
                             p.running_sequences, 4096, 4096)
    assert p.e2e_ms > 2 * single.e2e_ms


@pytest.mark.parametrize("args, kwargs, error, needle", [
    (("llama-3.1-8b", "H100-SXM-80GB", 1, 1, 10, 10), {}, CatalogError, "did you mean"),
    (("llama-3.1-8b-instruct", "H100", 1, 1, 10, 10), {}, CatalogError, "unknown GPU"),
    (("llama-3.1-70b-instruct", "H100-SXM-80GB", 1, 1, 10, 10), {}, ProfileError,
     "exceed the budget"),
    (("llama-3.1-8b-instruct", "H100-SXM-80GB", 3, 1, 10, 10), {}, ProfileError,
     "not divisible by TP 3"),
    (("llama-3.1-8b-instruct", "H100-SXM-80GB", 1, 0, 10, 10), {}, ProfileError,
     "batch_size: must be an integer >= 1"),
    (("llama-3.1-8b-instruct", "H100-SXM-80GB", 1, 1, 10, 10), {"gpu_fraction": 1.5},
     ProfileError, "gpu_fraction: must be in (0, 1]"),
    (("llama-2-7b", "H100-SXM-80GB", 1, 1, 4000, 200), {}, ProfileError,
     "exceeds the llm's context"),
])
def test_bad_requests_are_explained(args, kwargs, error, needle):
    with pytest.raises(error) as info:
        predict_request(*args, **kwargs)
    assert needle in str(info.value) and "Fix:" in str(info.value)
