"""The Ray Serve LLM config: what Ray can honour of a plan, and what it cannot.

Ray places a replica's bundles by GPU amount, never by GPU id, so a plan that depends on GPU
ids (an MPS-shared TP group, a TP group on a node of several NVLink domains, MIG slices) is
refused with the reason. The config validates with Ray's own pydantic models
(``ServeDeploySchema``, ``LLMConfig``) where Ray Serve LLM imports.
"""

import os

import pytest
import yaml

from scepsy_opt.core.errors import UnsupportedPlanError
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.types import ClusterSpec, NodeSpec
from scepsy_opt.emit import emit
from scepsy_opt.emit.ray_serve import RAY_VERSION, RAY_VLLM_VERSION
from scepsy_opt.emit.settings import EmitSettings
from scepsy_opt.testing.emit import GPU, h100_cluster, instance, mps_plan

MEMORY = MemorySettings()
RAY_ONLY = EmitSettings(formats=("ray_serve",))


def ray_plan(catalog):
    """What Ray can run as planned: the MPS plan without its fractional TP-2 group
    (single-GPU MPS shares and a whole-GPU TP-4 group)."""
    return mps_plan(catalog)[:-1]


def _serve(catalog, plan, cluster=None, settings=RAY_ONLY):
    result = emit(plan, cluster or h100_cluster(), catalog, MEMORY, settings,
                  workflow="ray", source="fixed plan")
    text = result.by_format("ray_serve")["serve_config.yaml"]
    return result, text, yaml.safe_load(text)


def _llm(config, llm):
    (app,) = [a for a in config["applications"] if a["name"] == llm]
    (entry,) = app["args"]["llm_configs"]
    return entry


def test_the_config_follows_a_plan_ray_can_honour(catalog):
    result, text, config = _serve(catalog, ray_plan(catalog))
    assert f"Ray {RAY_VERSION}" in text and f"vLLM {RAY_VLLM_VERSION}" in text
    assert "nvidia-cuda-mps-control -d" in text  # MPS shares need the daemon on every node
    for app in config["applications"]:
        (entry,) = app["args"]["llm_configs"]
        records = [r for r in result.plan.records if r.llm == app["name"]]
        fraction = 1.0 if records[0].mechanism == "whole" else records[0].gpu_fraction
        assert entry["placement_group_config"]["bundles"] == [{"GPU": fraction}] * records[0].tp
        env = entry["runtime_env"]["env_vars"]
        assert float(env["VLLM_RAY_PER_WORKER_GPUS"]) == fraction
        assert entry["deployment_config"]["num_replicas"] == len(records)
        assert entry["engine_kwargs"]["gpu_memory_utilization"] == \
            records[0].gpu_memory_utilization
        if records[0].mechanism == "mps":
            # the worker sees every GPU of its node: each of the 8 is limited
            mib = records[0].mps_pinned_memory_mib
            assert env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] == ",".join(
                f"{g}={mib}M" for g in range(8))
        else:
            assert "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT" not in env


def test_the_reranker_gets_its_serving_overrides(catalog):
    _, _, config = _serve(catalog, ray_plan(catalog))
    kwargs = _llm(config, "bge-reranker-v2-gemma")["engine_kwargs"]
    assert kwargs["runner"] == "pooling"
    assert kwargs["hf_overrides"] == catalog.llms["bge-reranker-v2-gemma"].serving.hf_overrides
    assert kwargs["hf_overrides"]["architectures"] == ["GemmaForSequenceClassification"]
    assert "hf_overrides" not in _llm(config, "llama-3.1-8b-instruct")["engine_kwargs"]


def test_an_mps_shared_tp_group_is_refused(catalog):
    plan = (*ray_plan(catalog),
            instance(catalog, "qwen2.5-14b-instruct", 0, "node-0", (6, 7), 0.5))
    with pytest.raises(UnsupportedPlanError) as error:
        emit(plan, h100_cluster(), catalog, MEMORY, RAY_ONLY, workflow="ray",
             source="fixed plan")
    text = str(error.value)
    assert "qwen2.5-14b-instruct-0 (GPUs [6, 7] of node node-0)" in text
    assert "two of its {GPU: 0.5} bundles, two of its ranks, may land on one GPU" in text
    assert "Fix: drop ray_serve from emit.formats" in text


def test_an_mps_shared_tp_group_above_half_a_gpu_is_kept(catalog):
    """Two bundles of more than half a GPU never fit on one GPU, so Ray keeps the ranks on
    distinct GPUs (and its own accounting keeps every GPU within 1)."""
    plan = (*ray_plan(catalog),
            instance(catalog, "qwen2.5-14b-instruct", 0, "node-0", (6, 7), 0.625))
    _, _, config = _serve(catalog, plan)
    entry = _llm(config, "qwen2.5-14b-instruct")
    assert entry["placement_group_config"] == {"bundles": [{"GPU": 0.625}] * 2,
                                               "strategy": "STRICT_PACK"}


def test_the_default_formats_write_a_note_instead_and_the_rest(catalog):
    plan = (*ray_plan(catalog),
            instance(catalog, "qwen2.5-14b-instruct", 0, "node-0", (6, 7), 0.5))
    result = emit(plan, h100_cluster(), catalog, MEMORY, EmitSettings(), workflow="ray",
                  source="fixed plan")
    assert list(result.by_format("ray_serve")) == ["NOT_EMITTED.md"]
    note = result.by_format("ray_serve")["NOT_EMITTED.md"]
    assert "qwen2.5-14b-instruct-0" in note and "Fix: drop ray_serve" in note
    assert "node-0/launch.sh" in result.by_format("vllm")
    assert result.by_format("kubernetes") and result.top_level()["plan.json"]


def test_a_tp_group_on_a_node_of_several_nvlink_domains_is_refused(catalog):
    cluster = ClusterSpec("pairs", "NVLink pairs", (NodeSpec(
        "node-0", GPU, 4, "rack-0", ((0, 1), (2, 3)), 400.0),))
    plan = (instance(catalog, "llama-3.1-8b-instruct", 0, "node-0", (0, 1), 1.0),)
    with pytest.raises(UnsupportedPlanError, match=r"several NVLink domains \[\[0, 1\], "
                                                   r"\[2, 3\]\]: Ray may pick GPUs"):
        emit(plan, cluster, catalog, MEMORY, RAY_ONLY, workflow="ray", source="fixed plan")
    # one GPU per instance: nothing for Ray to get wrong
    single = (instance(catalog, "llama-3.1-8b-instruct", 0, "node-0", (0,), 1.0),)
    _serve(catalog, single, cluster)


def test_rays_own_models_accept_the_config(catalog):
    """Ray Serve's ServeDeploySchema and Ray Serve LLM's LLMConfig (pydantic, extra fields
    forbidden) parse the emitted config."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is fetched from the Hub
    if os.environ.get("SCEPSY_REQUIRE_VLLM") == "1":  # make test installs ray[serve] with vllm
        import ray.serve.llm as llm
        import ray.serve.schema as schema
    else:
        schema = pytest.importorskip("ray.serve.schema")
        llm = pytest.importorskip("ray.serve.llm")
    import ray

    assert ray.__version__ == RAY_VERSION
    _, _, config = _serve(catalog, ray_plan(catalog))
    deploy = schema.ServeDeploySchema.model_validate(config)
    assert [a.name for a in deploy.applications] == [a["name"] for a in config["applications"]]
    for app in config["applications"]:
        (entry,) = app["args"]["llm_configs"]
        parsed = llm.LLMConfig.model_validate(entry)
        assert parsed.engine_kwargs == entry["engine_kwargs"]
        assert parsed.placement_group_config == entry["placement_group_config"]
        # Ray Serve LLM maps the engine kwargs onto the installed vLLM's engine arguments and
        # refuses any it does not know
        engine = parsed.get_engine_config().get_initialization_kwargs()
        assert {k: engine[k] for k in entry["engine_kwargs"]} == entry["engine_kwargs"]
        assert engine["distributed_executor_backend"] == "ray"
        args = llm.LLMServingArgs.model_validate(app["args"])
        assert len(args.llm_configs) == 1
