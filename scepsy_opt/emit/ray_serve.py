"""Ray Serve LLM: one Serve config (``manifests/ray-serve/serve_config.yaml``) with one
application per llm, deployed with ``serve deploy serve_config.yaml``.

Each application builds Ray Serve LLM's OpenAI app (``ray.serve.llm:build_openai_app``) from one
``LLMConfig``: the llm's id and source, ``num_replicas`` instances, ``engine_kwargs`` equal to
the vLLM launch configs' engine arguments (snake_case), and ``placement_group_config`` bundles of
``{GPU: <fraction>}``, one per TP rank (``STRICT_PACK``: one node; ``PACK`` for a group that
spans nodes). ``VLLM_RAY_PER_WORKER_GPUS`` equals the bundle fraction, so vLLM's Ray workers ask
for the same share. The config targets Ray :data:`RAY_VERSION`, whose ``ray[llm]`` pins vLLM
:data:`RAY_VLLM_VERSION` (the tests map the engine kwargs through Ray Serve LLM onto the
installed vLLM's engine arguments).

Ray schedules replicas itself: it picks a node and GPUs by amount, never by GPU id (a placement
group exposes no GPU ids), so the node and GPU ids of the placement are not pinned here (the
vllm and kubernetes formats pin them). Plans whose correctness depends on the GPU ids are
refused, with the reason: an MPS-shared instance with more than one rank at a share of at most
half a GPU (two bundles of its placement group fit on one GPU: two TP ranks would share it;
above half no two fit, and Ray's own accounting keeps every GPU within 1), a TP group on a node
of several NVLink domains (Ray may pick GPUs of different domains), and MIG slices (Ray has no
notion of them). Under MPS each worker sees every GPU of its node (vLLM's Ray executor sets the
visible devices of a node's workers), so the pinned memory limit names every GPU index of the
node; the nodes must run the MPS control daemon before ``ray start``.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from scepsy_opt.core.errors import EmitError, UnsupportedPlanError
from scepsy_opt.core.feasibility import exceeds
from scepsy_opt.emit.base import header, to_yaml
from scepsy_opt.emit.record import MIG, MPS, InstanceRecord, LaunchPlan, mps_memory_limit
from scepsy_opt.emit.schemas import validate_json
from scepsy_opt.emit.settings import RAY_ACCELERATOR_TYPES

BUILDER = "ray.serve.llm:build_openai_app"
RAY_VERSION = "2.60.0"
RAY_VLLM_VERSION = "0.29.0"  # ray[llm]==2.60.0 requires vllm[audio]==0.29.0
# Engine arguments that are not engine kwargs in Ray Serve LLM (model_loading_config names the
# model; Serve's proxy owns host and port).
NOT_ENGINE_KWARGS = ("model", "served-model-name", "host", "port")


def engine_kwargs(record: InstanceRecord) -> dict[str, Any]:
    return {key.replace("-", "_"): value for key, value in record.engine_args
            if key not in NOT_ENGINE_KWARGS}


def _shape(record: InstanceRecord) -> str:
    """What a Ray Serve deployment fixes for all its replicas (engine kwargs, bundles)."""
    return json.dumps([engine_kwargs(record), _fraction(record), record.pp], sort_keys=True)


def check_schedulable(record: InstanceRecord, *, source: str) -> None:
    """Refuse an instance whose plan Ray cannot honour, since Ray picks GPUs by amount."""
    fix = ("drop ray_serve from emit.formats (the vllm and kubernetes formats pin the planned "
           "GPUs), or plan this llm on whole GPUs inside one NVLink domain")
    where = f"{record.name} (GPUs {list(record.gpus)} of node {record.node})"
    if record.mechanism == MIG:
        raise UnsupportedPlanError(f"{where} runs on a MIG slice, which Ray cannot schedule",
                        source=source, field="emit.formats", value="ray_serve",
                        fix="drop ray_serve from emit.formats, or use fraction_mechanism=mps")
    if record.mechanism == MPS and record.tp * record.pp > 1 and \
            not exceeds(2 * record.gpu_fraction, 1.0):
        raise UnsupportedPlanError(
            f"{where} shares its {record.tp} GPUs under MPS, but Ray places fractional bundles "
            f"by amount: two of its {{GPU: {record.gpu_fraction:g}}} bundles, two of its ranks, "
            "may land on one GPU (a placement group cannot be pinned to GPU ids)",
            source=source, field="emit.formats", value="ray_serve",
            fix=fix + ", or with a share above 0.5 of each GPU")
    if record.tp > 1 and len(record.node_tp_domains) > 1:
        raise UnsupportedPlanError(f"{where} is a TP group on a node of several NVLink domains "
                        f"{[list(d) for d in record.node_tp_domains]}: Ray may pick GPUs of "
                        "different domains", source=source, field="emit.formats",
                        value="ray_serve", fix=fix)


def _fraction(record: InstanceRecord) -> float:
    return 1.0 if record.mechanism == "whole" else record.gpu_fraction


def llm_config(records: list[InstanceRecord]) -> dict[str, Any]:
    first = records[0]
    fraction = _fraction(first)
    config: dict[str, Any] = {
        "model_loading_config": {"model_id": first.llm, "model_source": first.model}}
    accelerator = RAY_ACCELERATOR_TYPES.get(first.gpu)
    if accelerator:
        config["accelerator_type"] = accelerator
    config["engine_kwargs"] = engine_kwargs(first)
    config["deployment_config"] = {"num_replicas": len(records)}
    config["placement_group_config"] = {
        "bundles": [{"GPU": fraction} for _ in range(first.tp * first.pp)],
        "strategy": "PACK" if first.spans_nodes else "STRICT_PACK"}
    env = {"VLLM_RAY_PER_WORKER_GPUS": f"{fraction:g}"}
    if first.mechanism == MPS:
        # a worker sees every GPU of its node: limit each (device indices as it sees them)
        env["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] = str(first.mps_active_thread_percentage)
        env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] = mps_memory_limit(
            range(first.node_gpus), first.mps_pinned_memory_mib)
    env.update((k, v) for k, v in first.env if not k.startswith("CUDA_"))
    config["runtime_env"] = {"env_vars": env}
    return config


class RayServeEmitter:
    """One Serve config with an application per llm."""

    format = "ray_serve"
    folder = "ray-serve"

    def render(self, plan: LaunchPlan) -> dict[str, str]:
        options = plan.settings.ray_serve
        by_llm: dict[str, list[InstanceRecord]] = {}
        for r in plan.records:
            check_schedulable(r, source=plan.source)
            by_llm.setdefault(r.llm, []).append(r)
        applications = []
        for llm, records in by_llm.items():
            if len({_shape(r) for r in records}) > 1:
                raise EmitError(f"the instances of {llm} differ in their engine arguments, "
                                "but a Ray Serve deployment has one shape", source=plan.source,
                                field="instances", value=[r.name for r in records],
                                fix="give every replica of an llm the same TP and fraction")
            applications.append({
                "name": llm,
                "route_prefix": options.route_prefix.replace("{llm}", llm),
                "import_path": BUILDER,
                "args": {"llm_configs": [llm_config(records)]},
            })
        config = {"proxy_location": "EveryNode",
                  "http_options": {"host": options.http_host, "port": options.http_port},
                  "applications": applications}
        mps = any(r.mechanism == MPS for r in plan.records)
        text = (f"# {header(plan)}\n# Deploy with: serve deploy serve_config.yaml (Ray Serve "
                f"LLM; Ray places the replicas).\n# For Ray {RAY_VERSION}: pip install "
                f"'ray[serve,llm]=={RAY_VERSION}' (vLLM {RAY_VLLM_VERSION}).\n"
                + ("# MPS: start nvidia-cuda-mps-control -d on every node before ray start, "
                   "or the CUDA_MPS_* limits are ignored.\n" if mps else "")
                + to_yaml(config))
        return {"serve_config.yaml": text}

    def validate(self, files: dict[str, str]) -> None:
        for path, text in files.items():
            config = yaml.safe_load(text)
            validate_json(config, "ray-serve-config.schema.json", source=path,
                          what="the Serve config")
            routes = [app["route_prefix"] for app in config["applications"]]
            names = [app["name"] for app in config["applications"]]
            for values, what in ((routes, "route_prefix"), (names, "name")):
                if len(set(values)) != len(values):
                    raise EmitError(f"two applications share a {what}", source=path,
                                    field=f"applications[].{what}", value=values,
                                    fix="use {llm} in emit.ray_serve.route_prefix")
            for app in config["applications"]:
                for llm in app["args"]["llm_configs"]:
                    per_worker = float(llm["runtime_env"]["env_vars"]["VLLM_RAY_PER_WORKER_GPUS"])
                    bundles = llm["placement_group_config"]["bundles"]
                    if any(abs(b["GPU"] - per_worker) > 1e-9 for b in bundles):
                        raise EmitError("VLLM_RAY_PER_WORKER_GPUS differs from the bundles' GPU "
                                        "fraction", source=path, field=app["name"],
                                        value=per_worker, fix="emit again")
                    tp = llm["engine_kwargs"]["tensor_parallel_size"]
                    pp = llm["engine_kwargs"].get("pipeline_parallel_size", 1)
                    if len(bundles) != tp * pp:
                        raise EmitError("one bundle per TP rank is needed", source=path,
                                        field=app["name"], value=len(bundles), fix="emit again")
