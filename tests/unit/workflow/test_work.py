import numpy as np
import pytest

from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.roofline import Arch, Hardware, RooflineModel, roofline_params
from scepsy_opt.workflow.work import reference_tp, work_model


def roofline(catalog, llm, gpu):
    return RooflineModel(Arch.of(catalog.llms[llm]), Hardware.of(catalog.gpus[gpu]),
                         roofline_params(gpu))


def test_unloaded_latency_is_the_roofline_prefill_plus_decode_steps(catalog):
    llm, gpu = catalog.llms["llama-3.1-8b-instruct"], catalog.gpus["H100-SXM-80GB"]
    model = work_model(llm, gpu)
    assert model.tp == 1
    exact = roofline(catalog, "llama-3.1-8b-instruct", "H100-SXM-80GB")
    prompt, output = 1000, 100
    contexts = prompt + np.arange(1, output)
    expected = float(exact.prefill_ms(1, 1, prompt)) + float(
        np.sum(exact.decode_step_ms(1, 1, contexts)))
    assert model.duration_s(np.array([prompt]), np.array([output]))[0] * 1e3 == pytest.approx(
        expected, rel=0.01)


def test_prefill_only_calls_cost_only_prefill(catalog):
    gpu = catalog.gpus["H100-SXM-80GB"]
    model = work_model(catalog.llms["bge-reranker-v2-gemma"], gpu)
    exact = roofline(catalog, "bge-reranker-v2-gemma", "H100-SXM-80GB")
    duration = model.duration_s(np.array([400]), np.array([0]))[0] * 1e3
    assert duration == pytest.approx(float(exact.prefill_ms(1, 1, 400)), rel=0.01)


def test_durations_grow_with_tokens(catalog):
    model = work_model(catalog.llms["qwen2.5-7b-instruct"], catalog.gpus["A100-SXM-80GB"])
    base = model.duration_s(np.array([500, 500, 4000]), np.array([50, 500, 50]))
    assert base[1] > base[0] and base[2] > base[0]


@pytest.mark.parametrize("llm, gpu, tp", [
    ("llama-3.1-8b-instruct", "H100-SXM-80GB", 1),
    ("qwen2.5-32b-instruct", "H100-SXM-80GB", 1),
    ("llama-3.1-70b-instruct", "H100-SXM-80GB", 2),
    ("qwen2.5-72b-instruct", "L40S-48GB", 4),
    ("llama-3.1-70b-instruct", "H200-141GB", 2),  # 131 GiB > 0.9 x 141 GiB
    ("qwen2.5-7b-instruct", "L40S-48GB", 1),
])
def test_reference_tp_is_the_smallest_that_holds_the_llm(catalog, llm, gpu, tp):
    assert reference_tp(catalog.llms[llm], catalog.gpus[gpu], MemorySettings()) == tp
