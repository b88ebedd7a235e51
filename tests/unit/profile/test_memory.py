import pytest

from scepsy_opt.core.memory import GIB, MemorySettings, memory_plan, weight_bytes_per_gpu

SETTINGS = MemorySettings()


def test_llama_3_1_8b_on_a_whole_h100(catalog):
    llm, gpu = catalog.llms["llama-3.1-8b-instruct"], catalog.gpus["H100-SXM-80GB"]
    plan = memory_plan(llm, gpu, 1, 1.0, SETTINGS)
    budget = 0.9 * 80 * GIB
    weights = 16_060_522_496
    activations = 8192 * (4 * 4096 + 3 * 14336) * 2 + 256 * 128256 * 4
    free = budget - weights - (1.0 * GIB + activations)
    per_token = 2 * 32 * 8 * 128 * 2
    assert plan.feasible
    assert plan.weights_gib_per_gpu == pytest.approx(weights / GIB)
    assert plan.kv_bytes_per_token_per_gpu == per_token == 131072
    assert plan.kv_capacity_tokens == int(free // (per_token * 16)) * 16
    assert plan.max_num_seqs(2048) == min(256, plan.kv_capacity_tokens // 2048)
    assert plan.running_sequences(1024, 512) == min(256, plan.kv_capacity_tokens // 1280)


def test_tensor_parallelism_splits_weights_and_kv(catalog):
    llm, gpu = catalog.llms["llama-3.1-70b-instruct"], catalog.gpus["H100-SXM-80GB"]
    one = memory_plan(llm, gpu, 1, 1.0, SETTINGS)
    four = memory_plan(llm, gpu, 4, 1.0, SETTINGS)
    assert not one.feasible and "exceed the budget" in one.reason
    assert "131.4 GiB/GPU" in one.reason and "72.0 GiB" in one.reason
    assert four.feasible
    assert four.weights_gib_per_gpu == pytest.approx(one.weights_gib_per_gpu / 4)
    assert four.kv_bytes_per_token_per_gpu == one.kv_bytes_per_token_per_gpu // 4


def test_kv_heads_are_replicated_beyond_their_count(catalog):
    llm = catalog.llms["bge-reranker-v2-gemma"]  # one KV head
    two = weight_bytes_per_gpu(llm, 2)
    extra = llm.num_layers * 2 * llm.hidden_size * llm.head_dim * 2 * (1 - 1 / 2)
    assert two == pytest.approx(llm.weight_bytes / 2 + extra)
    plan = memory_plan(llm, catalog.gpus["H100-SXM-80GB"], 2, 1.0, SETTINGS)
    assert plan.kv_bytes_per_token_per_gpu == 2 * 18 * 1 * 256 * llm.dtype_bytes


def test_small_fractions_and_kv_minimum(catalog):
    llm, gpu = catalog.llms["llama-3.1-8b-instruct"], catalog.gpus["H100-SXM-80GB"]
    plans = [memory_plan(llm, gpu, 1, f, SETTINGS) for f in (0.125, 0.25, 0.5, 1.0)]
    assert not plans[0].feasible and "exceed the budget" in plans[0].reason
    capacities = [p.kv_capacity_tokens for p in plans[1:]]
    assert capacities == sorted(capacities) and capacities[0] < capacities[-1]
    strict = MemorySettings(min_kv_tokens=10_000_000)
    plan = memory_plan(llm, gpu, 1, 1.0, strict)
    assert not plan.feasible and "fewer than the 10000000 required" in plan.reason
    assert plan.max_num_seqs(1024) == 0 and plan.running_sequences(10, 10) == 0
