import numpy as np
import pytest

from scepsy_opt.workflow.work import WorkEstimateSettings, reference_tp, work_model

SETTINGS = WorkEstimateSettings("H100-SXM-80GB", mfu=0.5, mbu=0.7, overhead_s=0.005,
                                weight_fit_fraction=0.9)


def test_llama_3_1_8b_on_h100(catalog):
    llm, gpu = catalog.llms["llama-3.1-8b-instruct"], catalog.gpus["H100-SXM-80GB"]
    model = work_model(llm, gpu, SETTINGS)
    assert model.tp == 1
    assert model.prefill_s_per_token == pytest.approx(2 * 8_030_261_248 / (989.4e12 * 0.5))
    assert model.decode_s_per_token == pytest.approx(16_060_522_496 / (3350e9 * 0.7))
    # 1000-token prompt, 100 output tokens: prefill 32.5 ms, decode 100 x ~6.9 ms
    duration = model.duration_s(np.array([1000]), np.array([100]))[0]
    kv = 131072 * (1000 + 50) / (3350e9 * 0.7)
    expected = 0.005 + 1000 * 2 * 8_030_261_248 / (989.4e12 * 0.5) + 100 * (
        16_060_522_496 / (3350e9 * 0.7) + kv)
    assert duration == pytest.approx(expected)


def test_prefill_only_calls_cost_only_prefill(catalog):
    model = work_model(catalog.llms["bge-reranker-v2-gemma"], catalog.gpus["H100-SXM-80GB"],
                       SETTINGS)
    duration = model.duration_s(np.array([400]), np.array([0]))[0]
    assert duration == pytest.approx(0.005 + 400 * model.prefill_s_per_token)


@pytest.mark.parametrize("llm, gpu, tp", [
    ("llama-3.1-8b-instruct", "H100-SXM-80GB", 1),
    ("qwen2.5-32b-instruct", "H100-SXM-80GB", 1),
    ("llama-3.1-70b-instruct", "H100-SXM-80GB", 2),
    ("qwen2.5-72b-instruct", "L40S-48GB", 4),
    ("llama-3.1-70b-instruct", "H200-141GB", 2),
    ("llama-2-70b", "H200-141GB", 2),
])
def test_reference_tp_is_the_smallest_that_fits(catalog, llm, gpu, tp):
    assert reference_tp(catalog.llms[llm], catalog.gpus[gpu], 0.9) == tp
