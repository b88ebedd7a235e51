"""Kubernetes objects: per instance a Deployment (a LeaderWorkerSet when its group spans nodes)
and a Service, per llm a Service over its instances, the GPU claims, and a README.

Layout under ``manifests/kubernetes/`` (``kubectl apply -f`` takes the files in name order)::

    README.md                  what the cluster needs (driver, feature gate, GPU mechanism per node)
    00-namespace.yaml          the namespace
    01-resource-claims.yaml    DRA claims (resource.k8s.io/v1) of the nodes that use DRA
    02-router.yaml             one OpenAI-compatible entry point (Service ``openai``)
    <instance>.yaml            Deployment (or LeaderWorkerSet) + Service of one instance
    llm-<llm>.yaml             Service over every instance of the llm

Every pod is pinned to its placed node (required node affinity on ``node_label``), mounts a
memory-backed ``/dev/shm``, and has startup, readiness and liveness probes on vLLM's
``/health``; the Hugging Face token, the model cache, the pods' host memory, the router and
the optional autoscalers are :mod:`scepsy_opt.emit.kubernetes_serving`'s. GPUs
(:mod:`scepsy_opt.emit.kubernetes_gpu`): one mechanism per node; nodes with
MPS-shared instances use NVIDIA's DRA driver (one ResourceClaim per shared GPU group with a
count and MPS sharing, a ResourceClaimTemplate per whole-GPU instance), the others the device
plugin (``nvidia.com/gpu: <tp>``, under MIG ``nvidia.com/mig-<profile>: 1``). An MPS pod sets
its own limits with ``CUDA_MPS_ACTIVE_THREAD_PERCENTAGE`` and ``CUDA_MPS_PINNED_DEVICE_MEM_LIMIT``
(a client can only lower the daemon's defaults). An instance that shares a GPU with instances
started before it on the node waits for their health in an init container, as the launch
scripts start them one after another.

Names and label values are checked against the API server's rules at render time
(:mod:`scepsy_opt.core.names`). Every object is validated against the Kubernetes JSON schemas
of ``kubernetes.version`` (``kubernetes-validate``, strict: unknown fields are errors), the
LeaderWorkerSet against the schema of its CRD (``schemas/leaderworkerset-v1.schema.json``).
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Mapping
from typing import Any

import yaml

from scepsy_opt.core.errors import EmitError
from scepsy_opt.core.names import check_label_value, dns_label
from scepsy_opt.emit import kubernetes_gpu as gpu
from scepsy_opt.emit import kubernetes_serving as serving
from scepsy_opt.emit.base import header, yaml_documents
from scepsy_opt.emit.record import MPS, InstanceRecord, LaunchPlan
from scepsy_opt.emit.settings import KubernetesOptions
from scepsy_opt.emit.vllm_options import load_options

MANAGED_BY = "scepsy_opt"
LWS_API = "leaderworkerset.x-k8s.io/v1"
RAY_PORT = 6379
_WAIT = ("import sys, time, urllib.request\n"
         "for url in sys.argv[1:]:\n"
         "    while True:\n"
         "        try:\n"
         "            if urllib.request.urlopen(url, timeout=5).status == 200:\n"
         "                break\n"
         "        except OSError:\n"
         "            pass\n"
         "        print('waiting for', url, flush=True)\n"
         "        time.sleep(5)\n")


def _labels(plan: LaunchPlan, record: InstanceRecord | None, llm: str) -> dict[str, str]:
    """The labels of an llm's (or an instance's) objects, each value checked against the API
    server's label-value rule (:func:`~scepsy_opt.core.names.check_label_value`)."""
    labels = {"app.kubernetes.io/name": "vllm",
              "app.kubernetes.io/component": dns_label(llm),
              "app.kubernetes.io/part-of": dns_label(plan.workflow),
              "app.kubernetes.io/managed-by": MANAGED_BY,
              "scepsy-opt/llm": dns_label(llm)}
    if record is not None:
        labels["app.kubernetes.io/instance"] = dns_label(record.name)
        labels["scepsy-opt/replica"] = str(record.replica)
    for key, value in labels.items():
        check_label_value(value, what=f"the label {key} of llm {llm!r}")
    return labels


def node_value(node: str, options: KubernetesOptions) -> str:
    """The ``node_label`` value that selects plan node ``node`` (``node_names`` renames it),
    checked as a label value: a value the API server refuses would leave the pod unschedulable
    (node ids over 63 characters, say)."""
    value = options.node_name(node)
    try:
        return check_label_value(value, what=f"the {options.node_label} value of node {node!r}")
    except EmitError as error:
        raise EmitError(error.problem, source="config", field="emit.kubernetes.node_names",
                        value=value, fix=f"map node {node!r} to its {options.node_label} label "
                                         "value in emit.kubernetes.node_names") from None


def serve_args(record: InstanceRecord, port: int, flags: dict[str, dict]) -> list[str]:
    """``vllm serve`` arguments of a record: the model first, then ``--option value`` pairs
    (the host is 0.0.0.0 and the port the container's)."""
    args = [str(record.model)]
    for key, value in record.engine_args:
        if key == "model":
            continue
        if key == "host":
            value = "0.0.0.0"
        elif key == "port":
            value = port
        if isinstance(value, bool):
            if value:
                args.append(f"--{key}")
            elif f"no-{key}" in flags or flags.get(key, {}).get("kind") == "flag":
                args.append(f"--no-{key}")
        elif isinstance(value, list | tuple):
            args += [f"--{key}", *map(str, value)]
        elif isinstance(value, dict):
            args += [f"--{key}", json.dumps(value, sort_keys=True)]
        else:
            args += [f"--{key}", str(value)]
    return args


def _resources(record: InstanceRecord, options: KubernetesOptions, mechanism: str,
               weight_gib: float | None) -> dict[str, Any]:
    memory = f"{serving.memory_gib(record, options, weight_gib)}Gi"
    requests: dict[str, Any] = {"cpu": options.cpu, "memory": memory}
    limits: dict[str, Any] = {"memory": memory, **gpu.gpu_limits(record, mechanism)}
    resources: dict[str, Any] = {}
    if mechanism == gpu.DRA:
        resources["claims"] = [{"name": gpu.REQUEST}]
    return {**resources, "requests": requests, "limits": limits}


def _probe(path: str, period_s: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period_s,
            "timeoutSeconds": 5, "failureThreshold": failures}


def _env(record: InstanceRecord, plan: LaunchPlan, mechanism: str) -> list[dict[str, Any]]:
    # Inside a pod the granted GPUs are renumbered from 0: CUDA_VISIBLE_DEVICES is the
    # device plugin's (or the DRA driver's) business there, except for an MPS instance on part
    # of its group's claim. With a model cache the init container downloads (with the token),
    # else vLLM does.
    options = plan.settings.kubernetes
    env = [(k, v) for k, v in record.env if k != "CUDA_VISIBLE_DEVICES"]
    token = serving.token_env(record, options) if options.model_cache_pvc is None else []
    return [*({"name": k, "value": v} for k, v in gpu.claim_env(plan, record, mechanism) + env),
            *serving.cache_env(record, options), *token]


def _affinity(nodes: list[str], options: KubernetesOptions) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{
            "key": options.node_label, "operator": "In",
            "values": [node_value(n, options) for n in nodes]}]}]}}}


def _container(record: InstanceRecord, plan: LaunchPlan, command: list[str],
               args: list[str], *, leader: bool, mechanism: str, weight_gib: float | None
               ) -> dict[str, Any]:
    options = plan.settings.kubernetes
    container: dict[str, Any] = {"name": "vllm" if leader else "ray-worker",
                                 "image": options.image, "command": command, "args": args}
    env = _env(record, plan, mechanism)
    if env:
        container["env"] = env
    if leader:
        container["ports"] = [{"name": "http", "containerPort": options.port}]
    container["resources"] = _resources(record, options, mechanism, weight_gib)
    container["volumeMounts"] = [{"name": "dshm", "mountPath": "/dev/shm"},
                                 *serving.cache_mounts(options)]
    if leader:
        period = 10
        container["startupProbe"] = _probe("/health", period,
                                           max(1, math.ceil(options.startup_timeout_s / period)))
        container["readinessProbe"] = _probe("/health", 5, 3)
        container["livenessProbe"] = _probe("/health", 10, 3)
    return container


def _pod_spec(record: InstanceRecord, plan: LaunchPlan, containers: list[dict[str, Any]],
              nodes: list[str], mechanism: str, *, leader: bool) -> dict[str, Any]:
    """A pod of the instance; the leader's (or the Deployment's) pod downloads the checkpoint
    into the model cache first, and waits for the instances it shares a GPU with."""
    options = plan.settings.kubernetes
    spec: dict[str, Any] = {"affinity": _affinity(nodes, options)}
    init = serving.download_container(record, options) if leader else []
    if record.waits_for and leader:
        urls = [f"http://{dns_label(name)}.{options.namespace}.svc:{options.port}/health"
                for name in record.waits_for]
        init.append({"name": "wait-for-co-located", "image": options.image,
                     "command": ["python3", "-c", _WAIT, *urls]})
    if init:
        spec["initContainers"] = init
    spec["containers"] = containers
    claims = gpu.pod_claims(plan, record, mechanism)
    if claims:
        spec["resourceClaims"] = claims
    spec["volumes"] = [{"name": "dshm", "emptyDir": {"medium": "Memory",
                                                    "sizeLimit": f"{options.shm_gib}Gi"}},
                       *serving.cache_volumes(options)]
    spec["terminationGracePeriodSeconds"] = 60
    return spec


def _metadata(name: str, plan: LaunchPlan, labels: dict[str, str],
              annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": plan.settings.kubernetes.namespace,
                            "labels": labels}
    if annotations:
        meta["annotations"] = annotations
    return meta


def _annotations(record: InstanceRecord) -> dict[str, str]:
    placed = "; ".join(f"{g.node}: GPU {','.join(map(str, g.gpus))}" for g in record.nodes)
    notes = {"scepsy-opt/placement": placed,
             "scepsy-opt/gpu-fraction": f"{record.gpu_fraction:g}",
             "scepsy-opt/mechanism": record.mechanism}
    if record.mig_profile:
        notes["scepsy-opt/mig-profile"] = record.mig_profile
    return notes


def deployment(record: InstanceRecord, plan: LaunchPlan, flags: dict[str, dict],
               mechanisms: dict[str, str], weight_gib: float | None = None
               ) -> dict[str, Any]:
    options = plan.settings.kubernetes
    labels = _labels(plan, record, record.llm)
    name = dns_label(record.name)
    mechanism = mechanisms[record.node]
    container = _container(record, plan, ["vllm", "serve"],
                           serve_args(record, options.port, flags), leader=True,
                           mechanism=mechanism, weight_gib=weight_gib)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _metadata(name, plan, labels, _annotations(record)),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/instance": name}},
            "template": {"metadata": {"labels": labels, "annotations": _annotations(record)},
                         "spec": _pod_spec(record, plan, [container], [record.node],
                                           mechanism, leader=True)},
        },
    }


def leader_worker_set(record: InstanceRecord, plan: LaunchPlan, flags: dict[str, dict],
                      mechanisms: dict[str, str], weight_gib: float | None = None
                      ) -> dict[str, Any]:
    """A group that spans nodes: the leader (first node) starts the Ray head, waits until the
    workers have joined with all the group's GPUs, then runs ``vllm serve`` with pipeline
    parallelism over the nodes; the workers join its Ray cluster (LWS_LEADER_ADDRESS)."""
    options = plan.settings.kubernetes
    labels = _labels(plan, record, record.llm)
    name = dns_label(record.name)
    serve = " ".join(["vllm", "serve", *map(shlex.quote, serve_args(record, options.port,
                                                                      flags))])
    gpus = record.tp * record.pp
    wait = ("until python3 -c \"import ray, sys; ray.init(address='auto'); "
            f"sys.exit(ray.cluster_resources().get('GPU', 0) < {gpus})\"; do sleep 5; done")
    first, rest = mechanisms[record.node], mechanisms[record.nodes[1].node]
    leader = _container(record, plan, ["/bin/bash", "-c"], [
        f"ray start --head --port={RAY_PORT} && {wait} && exec {serve}"], leader=True,
        mechanism=first, weight_gib=weight_gib)
    worker = _container(record, plan, ["/bin/bash", "-c"], [
        f"exec ray start --block --address=$(LWS_LEADER_ADDRESS):{RAY_PORT}"], leader=False,
        mechanism=rest, weight_gib=weight_gib)
    return {
        "apiVersion": LWS_API, "kind": "LeaderWorkerSet",
        "metadata": _metadata(name, plan, labels, _annotations(record)),
        "spec": {
            "replicas": 1,
            "startupPolicy": "LeaderCreated",
            "leaderWorkerTemplate": {
                "size": record.pp,
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": {"metadata": {"labels": {**labels, "role": "leader"}},
                                   "spec": _pod_spec(record, plan, [leader], [record.node],
                                                     first, leader=True)},
                "workerTemplate": {"metadata": {"labels": {**labels, "role": "worker"}},
                                   "spec": _pod_spec(record, plan, [worker],
                                                     [g.node for g in record.nodes[1:]],
                                                     rest, leader=False)},
            },
        },
    }


def service(name: str, selector: dict[str, str], plan: LaunchPlan, labels: dict[str, str]
            ) -> dict[str, Any]:
    port = plan.settings.kubernetes.port
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": _metadata(name, plan, labels),
            "spec": {"type": "ClusterIP", "selector": selector,
                     "ports": [{"name": "http", "port": port, "targetPort": "http",
                                "protocol": "TCP"}]}}


def _claim_metadata(name: str, plan: LaunchPlan, placed: str, users: list[str]
                    ) -> dict[str, Any]:
    return _metadata(name, plan, {"app.kubernetes.io/part-of": dns_label(plan.workflow),
                                  "app.kubernetes.io/managed-by": MANAGED_BY},
                     {"scepsy-opt/placement": placed, "scepsy-opt/shared-by": ", ".join(users)})


def _claims(plan: LaunchPlan, mechanisms: dict[str, str]) -> list[dict[str, Any]]:
    """The ResourceClaims of the MPS-shared GPU groups and the ResourceClaimTemplates of
    whole-GPU instances on ``dra`` nodes (one per node group of a group that spans nodes)."""
    objects = [gpu.shared_claim(node, gpus, plan, _claim_metadata(
        gpu.claim_name(node, gpus), plan, f"{node}: GPU {','.join(map(str, gpus))}", users))
        for (node, gpus), users in gpu.shared_groups(plan).items()]
    for r in plan.records:
        if r.mechanism != MPS and any(mechanisms[g.node] == gpu.DRA for g in r.nodes):
            placed = "; ".join(f"{g.node}: GPU {','.join(map(str, g.gpus))}" for g in r.nodes)
            objects.append(gpu.claim_template(r, plan, _claim_metadata(
                gpu.template_name(r), plan, placed, [r.name])))
    return objects


def _unique(names: list[str], plan: LaunchPlan, what: str, fix: str) -> None:
    if len(set(names)) != len(names):
        raise EmitError(f"two {what} get the same Kubernetes name", source=plan.source,
                        value=sorted({n for n in names if names.count(n) > 1}), fix=fix)


def readme(plan: LaunchPlan, mechanisms: dict[str, str]) -> str:
    """``README.md``: what the manifests need from the cluster, and the order to apply them."""
    lines = [f"# Kubernetes manifests of workflow {plan.workflow!r} on cluster "
             f"{plan.cluster!r}", "", "Generated by scepsy_opt. Apply with `kubectl apply -f .` "
             "(files in name order: the namespace, the GPU claims, then the workloads).", "",
             "## Prerequisites", ""]
    lines += [f"- Kubernetes {plan.settings.kubernetes.version} or later; the nodes are selected "
              f"by their `{plan.settings.kubernetes.node_label}` label "
              "(`emit.kubernetes.node_names` maps plan node ids to its values)."]
    if any(r.spans_nodes for r in plan.records):
        lines.append("- The LeaderWorkerSet controller (`leaderworkerset.x-k8s.io/v1`, "
                     "https://github.com/kubernetes-sigs/lws) for groups that span nodes.")
    lines += serving.readme(plan)
    lines.append("")
    return "\n".join(lines + gpu.readme(plan, mechanisms)) + "\n"


class KubernetesEmitter:
    """Deployments or LeaderWorkerSets, Services, GPU claims, the namespace, a README."""

    format = "kubernetes"
    folder = "kubernetes"

    def __init__(self, options: KubernetesOptions | None = None,
                 weights_gib: Mapping[str, float] | None = None) -> None:
        self.options = options or KubernetesOptions()
        self.weights_gib = dict(weights_gib or {})  # per llm, to size the pods' host memory

    def render(self, plan: LaunchPlan) -> dict[str, str]:
        options = plan.settings.kubernetes
        title = header(plan)
        names = [dns_label(r.name) for r in plan.records]
        _unique(names, plan, "instances", "rename llms whose ids differ only in characters "
                "Kubernetes names cannot hold")
        mechanisms = gpu.node_mechanisms(plan)
        gpu.check_mechanisms(plan, mechanisms)
        files = {"README.md": readme(plan, mechanisms),
                 "00-namespace.yaml": yaml_documents([{
                     "apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": options.namespace,
                                  "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}}}],
                     title)}
        claims = _claims(plan, mechanisms)
        if claims:
            _unique([c["metadata"]["name"] for c in claims] + names, plan, "GPU claims",
                    "rename the llm or node whose name collides")
            files["01-resource-claims.yaml"] = yaml_documents(
                claims, f"{title}\nDRA GPU claims (see README.md): one ResourceClaim per "
                "MPS-shared GPU group, one ResourceClaimTemplate per whole-GPU instance on a "
                "DRA node.")
        if options.router:
            labels = {"app.kubernetes.io/name": "vllm-router",
                      "app.kubernetes.io/part-of": dns_label(plan.workflow),
                      "app.kubernetes.io/managed-by": MANAGED_BY}
            files["02-router.yaml"] = yaml_documents(
                serving.router(plan, labels), f"{title}\nOne OpenAI-compatible endpoint "
                f"(Service {serving.ENTRY_SERVICE}) routing by model to every instance.")
        for r in plan.records:
            files[f"{dns_label(r.name)}.yaml"] = self._instance_file(r, plan, mechanisms, title)
        services = names + [dns_label(f"llm-{llm}") for llm in plan.llms]
        if options.router:
            services += [serving.ENTRY_SERVICE, serving.ROUTER]
        _unique(services, plan, "Services", "rename the llm whose id starts with 'llm-'")
        for llm in plan.llms:
            files[f"llm-{dns_label(llm)}.yaml"] = yaml_documents(
                [service(dns_label(f"llm-{llm}"), {"scepsy-opt/llm": dns_label(llm)}, plan,
                         _labels(plan, None, llm))],
                f"{title}\nOne Service over every instance of {llm}.")
        return files

    def _instance_file(self, r: InstanceRecord, plan: LaunchPlan, mechanisms: dict[str, str],
                       title: str) -> str:
        """The workload of one instance, its Service and (when enabled) its autoscaler."""
        flags = load_options()["options"]
        name = dns_label(r.name)
        weight = self.weights_gib.get(r.llm)
        workload = leader_worker_set(r, plan, flags, mechanisms, weight) if r.spans_nodes \
            else deployment(r, plan, flags, mechanisms, weight)
        labels = _labels(plan, r, r.llm)
        objects = [workload, service(name, {"app.kubernetes.io/instance": name}, plan, labels)]
        scaler = serving.autoscaler(r, name, plan.settings.kubernetes, labels)
        if scaler is not None:
            objects.append(scaler)
        return yaml_documents(objects, f"{title}\n{r.llm} replica {r.replica}: "
                              + "; ".join(f"{g.node} GPU {','.join(map(str, g.gpus))}"
                                          for g in r.nodes)
                              + f" ({r.mechanism}, fraction {r.gpu_fraction:g}, TP {r.tp})")

    def validate(self, files: dict[str, str]) -> None:
        for path, text in files.items():
            if not path.endswith(".yaml"):
                continue
            for index, document in enumerate(yaml.safe_load_all(text)):
                if document is not None:
                    validate_object(document, self.options.version,
                                    source=f"{path} (document {index + 1})")


def validate_object(document: dict[str, Any], version: str, *, source: str) -> None:
    """One Kubernetes object against the schema of its kind (strict: unknown fields fail)."""
    from scepsy_opt.emit.schemas import validate_leader_worker_set

    if not isinstance(document, dict) or "kind" not in document or "apiVersion" not in document:
        raise EmitError("not a Kubernetes object (no apiVersion/kind)", source=source,
                        fix="emit again")
    what = f"{document['kind']} {document.get('metadata', {}).get('name', '?')}"
    if document["apiVersion"] == LWS_API and document["kind"] == "LeaderWorkerSet":
        validate_leader_worker_set(document, version, source=f"{source}: {what}")
        return
    import kubernetes_validate

    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(p) for p in error.path) or "(object)"
        raise EmitError(f"{what} breaks the Kubernetes {version} schema: {error.message}",
                        source=source, field=where,
                        fix="report this: the emitted object is malformed") from None
    except kubernetes_validate.SchemaNotFoundError as error:
        raise EmitError(f"{what}: no schema for {error.kind} {error.api_version} in "
                        f"Kubernetes {error.version}", source=source,
                        field="emit.kubernetes.version", value=version,
                        fix="use Kubernetes 1.34 or later (resource.k8s.io/v1)") from None
    except kubernetes_validate.VersionNotSupportedError:
        raise EmitError("kubernetes-validate has no schemas for this Kubernetes version",
                        source="config", field="emit.kubernetes.version", value=version,
                        fix="use a version kubernetes-validate ships, e.g. 1.34") from None
