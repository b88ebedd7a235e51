"""What a production Kubernetes deployment of the plan needs beside the engines: the Hugging Face
token of gated llms, a model cache, host memory sized for TP workers, one OpenAI-compatible
entry point, optional autoscalers.

- **Token**: an instance of a gated llm (``emit.kubernetes.gated_llms``) that loads from the
  Hugging Face hub reads ``HF_TOKEN`` from the Secret ``hf_token_secret`` (key
  ``hf_token_key``).
- **Model cache**: with ``model_cache_pvc`` set, every pod mounts that PersistentVolumeClaim at
  ``model_cache_path`` (``HF_HOME``); an init container downloads the checkpoint into it
  (``huggingface_hub.snapshot_download``, a no-op once cached) and vLLM starts offline
  (``HF_HUB_OFFLINE=1``), so the startup probe covers loading from disk, not the download.
- **Memory** (:func:`memory_gib`): see its docstring.
- **Entry point** (:func:`router`): the vLLM production-stack router
  (https://github.com/vllm-project/production-stack, ``vllm-router``) with static service
  discovery: one backend per instance Service, each tagged with its llm id (vLLM's
  ``served-model-name``), so a request is routed by its ``model`` field, round-robin over the
  llm's instances, behind one Service.
- **Autoscaling** (:func:`autoscaler`, off by default): an ``autoscaling/v2``
  HorizontalPodAutoscaler per whole-GPU Deployment on a per-pod metric of vLLM
  (``autoscale_metric``, served by a custom-metrics adapter such as prometheus-adapter).
  Replicas beyond the plan need free GPUs on the instance's node (pods stay pinned to it);
  MPS and MIG instances are not scaled, as a second pod would over-commit their GPU share.
"""

from __future__ import annotations

import math
from typing import Any

from scepsy_opt.core.names import dns_label
from scepsy_opt.emit.record import WHOLE, InstanceRecord, LaunchPlan
from scepsy_opt.emit.settings import KubernetesOptions

CACHE_VOLUME = "model-cache"
ROUTER = "openai-router"
ENTRY_SERVICE = "openai"
_DOWNLOAD = ("import sys\n"
             "from huggingface_hub import snapshot_download\n"
             "print('cached at', snapshot_download(sys.argv[1]), flush=True)\n")


def from_hub(record: InstanceRecord) -> bool:
    """Whether vLLM loads the instance's checkpoint from the Hugging Face hub (not a folder)."""
    return record.model == record.hf_id


def token_env(record: InstanceRecord, options: KubernetesOptions) -> list[dict[str, Any]]:
    """``HF_TOKEN`` from the token Secret, for a gated llm loaded from the hub."""
    if options.hf_token_secret is None or record.llm not in options.gated_llms or \
            not from_hub(record):
        return []
    return [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
        "name": options.hf_token_secret, "key": options.hf_token_key}}}]


def cache_env(record: InstanceRecord, options: KubernetesOptions) -> list[dict[str, Any]]:
    """The serving container's cache variables: the cache as ``HF_HOME``, offline when the
    init container has downloaded the checkpoint."""
    if options.model_cache_pvc is None:
        return []
    env = [{"name": "HF_HOME", "value": options.model_cache_path}]
    if from_hub(record):
        env.append({"name": "HF_HUB_OFFLINE", "value": "1"})
    return env


def cache_mounts(options: KubernetesOptions) -> list[dict[str, Any]]:
    if options.model_cache_pvc is None:
        return []
    return [{"name": CACHE_VOLUME, "mountPath": options.model_cache_path}]


def cache_volumes(options: KubernetesOptions) -> list[dict[str, Any]]:
    if options.model_cache_pvc is None:
        return []
    return [{"name": CACHE_VOLUME,
             "persistentVolumeClaim": {"claimName": options.model_cache_pvc}}]


def download_container(record: InstanceRecord, options: KubernetesOptions
                       ) -> list[dict[str, Any]]:
    """The init container that downloads a hub checkpoint into the cache (none without a
    cache or for a checkpoint in a folder)."""
    if options.model_cache_pvc is None or not from_hub(record):
        return []
    return [{"name": "download-model", "image": options.image,
             "command": ["python3", "-c", _DOWNLOAD, record.hf_id],
             "env": [{"name": "HF_HOME", "value": options.model_cache_path},
                     *token_env(record, options)],
             "volumeMounts": cache_mounts(options)}]


def memory_gib(record: InstanceRecord, options: KubernetesOptions,
               weight_gib: float | None) -> int:
    """Host memory of one pod of an instance (its request and limit, GiB).

    ``memory_gib`` (the API server, tokenizer and frontend) + ``shm_gib`` (the memory-backed
    ``/dev/shm`` counts against the pod's memory) + ``worker_memory_gib`` per TP worker process
    (CUDA context, pinned transfer buffers, NCCL) + the pod's share of the weights
    (``weight_gib / pp``: safetensors are read through the page cache, which the pod's cgroup
    is charged for). Without the llm's size (no catalog), the weights term is left out.
    """
    weights = 0 if weight_gib is None else math.ceil(weight_gib / record.pp)
    return options.memory_gib + options.shm_gib + options.worker_memory_gib * record.tp + weights


def _metadata(name: str, options: KubernetesOptions, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": options.namespace, "labels": labels}


def router(plan: LaunchPlan, labels: dict[str, str]) -> list[dict[str, Any]]:
    """The router Deployment and its Service (``openai``): one OpenAI-compatible endpoint
    routing by ``model`` to every instance's Service."""
    options = plan.settings.kubernetes
    backends = [f"http://{dns_label(r.name)}.{options.namespace}.svc:{options.port}"
                for r in plan.records]
    args = ["--port", str(options.port), "--service-discovery", "static",
            "--static-backends", ",".join(backends),
            "--static-models", ",".join(r.llm for r in plan.records),
            "--routing-logic", "roundrobin"]
    selector = {"app.kubernetes.io/instance": ROUTER}
    pod_labels = {**labels, **selector}
    probe = {"tcpSocket": {"port": "http"}, "periodSeconds": 10, "failureThreshold": 3}
    container = {"name": "router", "image": options.router_image, "command": ["vllm-router"],
                 "args": args, "ports": [{"name": "http", "containerPort": options.port}],
                 "resources": {"requests": {"cpu": "1", "memory": "2Gi"},
                               "limits": {"memory": "2Gi"}},
                 "readinessProbe": probe, "livenessProbe": probe}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": _metadata(ROUTER, options, pod_labels),
                  "spec": {"replicas": 1, "selector": {"matchLabels": selector},
                           "template": {"metadata": {"labels": pod_labels},
                                        "spec": {"containers": [container]}}}}
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": _metadata(ENTRY_SERVICE, options, labels),
               "spec": {"type": "ClusterIP", "selector": selector,
                        "ports": [{"name": "http", "port": options.port, "targetPort": "http",
                                   "protocol": "TCP"}]}}
    return [deployment, service]


def autoscaler(record: InstanceRecord, name: str, options: KubernetesOptions,
               labels: dict[str, str]) -> dict[str, Any] | None:
    """The HorizontalPodAutoscaler of a whole-GPU Deployment (None: off, or not scalable)."""
    if options.autoscale_max_replicas <= 1 or record.mechanism != WHOLE or record.spans_nodes:
        return None
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": _metadata(name, options, labels),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": name},
                     "minReplicas": 1, "maxReplicas": options.autoscale_max_replicas,
                     "metrics": [{"type": "Pods", "pods": {
                         "metric": {"name": options.autoscale_metric},
                         "target": {"type": "AverageValue",
                                    "averageValue": str(options.autoscale_target)}}}]}}


def readme(plan: LaunchPlan) -> list[str]:
    """The README lines of what these objects need from the cluster."""
    options = plan.settings.kubernetes
    lines = []
    gated = sorted({r.llm for r in plan.records if token_env(r, options)})
    if gated:
        lines.append(f"- A Secret `{options.hf_token_secret}` in namespace `{options.namespace}` "
                     f"with the Hugging Face token under key `{options.hf_token_key}` "
                     f"(gated: {', '.join(gated)}): `kubectl -n {options.namespace} create "
                     f"secret generic {options.hf_token_secret} "
                     f"--from-literal={options.hf_token_key}=hf_...`.")
    if options.model_cache_pvc is not None:
        lines.append(f"- A PersistentVolumeClaim `{options.model_cache_pvc}` (ReadWriteMany, "
                     "large enough for every llm's weights), mounted at "
                     f"`{options.model_cache_path}`; each pod's init container downloads its "
                     "checkpoint into it.")
    if options.router:
        lines.append(f"- The router image `{options.router_image}` (vLLM production-stack "
                     "router, https://github.com/vllm-project/production-stack): send every "
                     f"request to Service `{ENTRY_SERVICE}` port {options.port}; the `model` "
                     "field picks the llm.")
    if options.autoscale_max_replicas > 1:
        lines.append(f"- A custom-metrics adapter serving the per-pod metric "
                     f"`{options.autoscale_metric}` (e.g. prometheus-adapter over vLLM's "
                     "`/metrics`) for the HorizontalPodAutoscalers; extra replicas need free "
                     "GPUs on the instance's node.")
    return lines
