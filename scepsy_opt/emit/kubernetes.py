"""Kubernetes objects: per instance a Deployment (a LeaderWorkerSet when its group spans nodes)
and a Service, per llm a Service over its instances, and the shared GPUs' ResourceClaims.

Layout under ``manifests/kubernetes/`` (``kubectl apply -f`` takes the files in name order)::

    00-namespace.yaml          the namespace
    01-resource-claims.yaml    one DRA ResourceClaim (resource.k8s.io/v1) per MPS-shared GPU
    <instance>.yaml            Deployment (or LeaderWorkerSet) + Service of one instance
    llm-<llm>.yaml             Service over every instance of the llm

Every pod is pinned to its placed node (required node affinity on ``node_label``), mounts a
memory-backed ``/dev/shm``, and has startup, readiness and liveness probes on vLLM's
``/health``. GPUs: whole GPUs through the device plugin (``nvidia.com/gpu: <tp>``); under MIG a
fractional instance takes its profile (``nvidia.com/mig-<profile>: 1``); under MPS every shared
GPU is one ResourceClaim that selects the GPU by its index on the node and configures MPS
sharing (NVIDIA's DRA driver, ``GpuConfig``), and every pod on it references the claim and sets
its own limits with ``CUDA_MPS_ACTIVE_THREAD_PERCENTAGE`` and
``CUDA_MPS_PINNED_DEVICE_MEM_LIMIT`` (a client can only lower the daemon's defaults). An
instance that shares a GPU with instances started before it on the node waits for their health
in an init container, as the launch scripts start them one after another.

Every object is validated against the Kubernetes JSON schemas of ``kubernetes.version``
(``kubernetes-validate``, strict: unknown fields are errors), the LeaderWorkerSet against the
schema of its CRD (``schemas/leaderworkerset-v1.schema.json``).
"""

from __future__ import annotations

import json
import math
import shlex
from typing import Any

import yaml

from scepsy_opt.core.errors import EmitError
from scepsy_opt.core.names import check_label_value, dns_label
from scepsy_opt.emit.base import header, yaml_documents
from scepsy_opt.emit.record import MIG, MPS, WHOLE, InstanceRecord, LaunchPlan
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


def claim_name(node: str, gpu: int) -> str:
    return dns_label(f"gpu-{node}-{gpu}")


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


def _resources(record: InstanceRecord, options: KubernetesOptions) -> dict[str, Any]:
    requests: dict[str, Any] = {"cpu": options.cpu, "memory": f"{options.memory_gib}Gi"}
    limits: dict[str, Any] = {"memory": f"{options.memory_gib}Gi"}
    resources: dict[str, Any] = {}
    if record.mechanism == WHOLE:
        limits["nvidia.com/gpu"] = record.tp
    elif record.mechanism == MIG:
        limits[f"nvidia.com/mig-{record.mig_profile}"] = 1
    else:
        resources["claims"] = [{"name": f"gpu-{k}"} for k in range(record.tp)]
    return {**resources, "requests": requests, "limits": limits}


def _probe(path: str, period_s: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period_s,
            "timeoutSeconds": 5, "failureThreshold": failures}


def _env(record: InstanceRecord) -> list[dict[str, str]]:
    # Inside a pod the granted GPUs are renumbered from 0: CUDA_VISIBLE_DEVICES is the
    # device plugin's (or the DRA driver's) business there.
    return [{"name": k, "value": v} for k, v in record.env if k != "CUDA_VISIBLE_DEVICES"]


def _affinity(nodes: list[str], options: KubernetesOptions) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{
            "key": options.node_label, "operator": "In",
            "values": [node_value(n, options) for n in nodes]}]}]}}}


def _container(record: InstanceRecord, plan: LaunchPlan, command: list[str],
               args: list[str], *, serving: bool) -> dict[str, Any]:
    options = plan.settings.kubernetes
    container: dict[str, Any] = {"name": "vllm" if serving else "ray-worker",
                                 "image": options.image, "command": command, "args": args}
    env = _env(record)
    if env:
        container["env"] = env
    if serving:
        container["ports"] = [{"name": "http", "containerPort": options.port}]
    container["resources"] = _resources(record, options)
    container["volumeMounts"] = [{"name": "dshm", "mountPath": "/dev/shm"}]
    if serving:
        period = 10
        container["startupProbe"] = _probe("/health", period,
                                           max(1, math.ceil(options.startup_timeout_s / period)))
        container["readinessProbe"] = _probe("/health", 5, 3)
        container["livenessProbe"] = _probe("/health", 10, 3)
    return container


def _pod_spec(record: InstanceRecord, plan: LaunchPlan, containers: list[dict[str, Any]],
              nodes: list[str]) -> dict[str, Any]:
    options = plan.settings.kubernetes
    spec: dict[str, Any] = {"affinity": _affinity(nodes, options)}
    if record.waits_for:
        urls = [f"http://{dns_label(name)}.{options.namespace}.svc:{options.port}/health"
                for name in record.waits_for]
        spec["initContainers"] = [{
            "name": "wait-for-co-located", "image": options.image,
            "command": ["python3", "-c", _WAIT, *urls]}]
    spec["containers"] = containers
    if record.mechanism == MPS:
        spec["resourceClaims"] = [{"name": f"gpu-{k}", "resourceClaimName": claim_name(
            record.node, g)} for k, g in enumerate(record.gpus)]
    spec["volumes"] = [{"name": "dshm", "emptyDir": {"medium": "Memory",
                                                    "sizeLimit": f"{options.shm_gib}Gi"}}]
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


def deployment(record: InstanceRecord, plan: LaunchPlan, flags: dict[str, dict]
               ) -> dict[str, Any]:
    options = plan.settings.kubernetes
    labels = _labels(plan, record, record.llm)
    name = dns_label(record.name)
    container = _container(record, plan, ["vllm", "serve"],
                           serve_args(record, options.port, flags), serving=True)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _metadata(name, plan, labels, _annotations(record)),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/instance": name}},
            "template": {"metadata": {"labels": labels, "annotations": _annotations(record)},
                         "spec": _pod_spec(record, plan, [container], [record.node])},
        },
    }


def leader_worker_set(record: InstanceRecord, plan: LaunchPlan, flags: dict[str, dict]
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
    leader = _container(record, plan, ["/bin/bash", "-c"], [
        f"ray start --head --port={RAY_PORT} && {wait} && exec {serve}"], serving=True)
    worker = _container(record, plan, ["/bin/bash", "-c"], [
        f"exec ray start --block --address=$(LWS_LEADER_ADDRESS):{RAY_PORT}"], serving=False)
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
                                   "spec": _pod_spec(record, plan, [leader], [record.node])},
                "workerTemplate": {"metadata": {"labels": {**labels, "role": "worker"}},
                                   "spec": _pod_spec(record, plan, [worker],
                                                     [g.node for g in record.nodes[1:]])},
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


def resource_claim(node: str, gpu: int, plan: LaunchPlan, users: list[str]) -> dict[str, Any]:
    options = plan.settings.kubernetes
    return {
        "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
        "metadata": _metadata(claim_name(node, gpu), plan,
                              {"app.kubernetes.io/part-of": dns_label(plan.workflow),
                               "app.kubernetes.io/managed-by": MANAGED_BY},
                              {"scepsy-opt/placement": f"{node}: GPU {gpu}",
                               "scepsy-opt/shared-by": ", ".join(users)}),
        "spec": {"devices": {
            "requests": [{"name": "gpu", "exactly": {
                "deviceClassName": options.device_class,
                "selectors": [{"cel": {"expression":
                                       f'device.attributes["{options.device_class}"].index'
                                       f" == {gpu}"}}]}}],
            "config": [{"requests": ["gpu"], "opaque": {
                "driver": options.device_class,
                "parameters": {"apiVersion": "resource.nvidia.com/v1beta1",
                               "kind": "GpuConfig",
                               "sharing": {"strategy": "MPS",
                                           "mpsConfig": {"defaultActiveThreadPercentage": 100}}},
            }}],
        }},
    }


class KubernetesEmitter:
    """Deployments or LeaderWorkerSets, Services, shared ResourceClaims, the namespace."""

    format = "kubernetes"
    folder = "kubernetes"

    def render(self, plan: LaunchPlan) -> dict[str, str]:
        options = plan.settings.kubernetes
        flags = load_options()["options"]
        title = header(plan)
        names = [dns_label(r.name) for r in plan.records]
        if len(set(names)) != len(names):
            raise EmitError("two instances get the same Kubernetes name", source=plan.source,
                            value=sorted(n for n in names if names.count(n) > 1),
                            fix="rename llms whose ids differ only in characters Kubernetes "
                                "names cannot hold")
        files = {"00-namespace.yaml": yaml_documents([{
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": options.namespace,
                         "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}}}], title)}
        shared: dict[tuple[str, int], list[str]] = {}
        for r in plan.records:
            if r.mechanism == MPS:
                for g in r.gpus:
                    shared.setdefault((r.node, g), []).append(r.name)
        if shared:
            files["01-resource-claims.yaml"] = yaml_documents(
                [resource_claim(node, g, plan, users) for (node, g), users in shared.items()],
                f"{title}\nMPS-shared GPUs: one ResourceClaim each, referenced by every pod "
                "on the GPU.")
        for r in plan.records:
            name = dns_label(r.name)
            workload = leader_worker_set(r, plan, flags) if r.spans_nodes else \
                deployment(r, plan, flags)
            files[f"{name}.yaml"] = yaml_documents(
                [workload, service(name, {"app.kubernetes.io/instance": name}, plan,
                                   _labels(plan, r, r.llm))],
                f"{title}\n{r.llm} replica {r.replica}: "
                + "; ".join(f"{g.node} GPU {','.join(map(str, g.gpus))}" for g in r.nodes)
                + f" ({r.mechanism}, fraction {r.gpu_fraction:g}, TP {r.tp})")
        services = names + [dns_label(f"llm-{llm}") for llm in plan.llms]
        if len(set(services)) != len(services):
            raise EmitError("two Services get the same name", source=plan.source,
                            value=sorted(n for n in services if services.count(n) > 1),
                            fix="rename the llm whose id starts with 'llm-'")
        for llm in plan.llms:
            files[f"llm-{dns_label(llm)}.yaml"] = yaml_documents(
                [service(dns_label(f"llm-{llm}"), {"scepsy-opt/llm": dns_label(llm)}, plan,
                         _labels(plan, None, llm))],
                f"{title}\nOne Service over every instance of {llm}.")
        return files

    def __init__(self, options: KubernetesOptions | None = None) -> None:
        self.options = options or KubernetesOptions()

    def validate(self, files: dict[str, str]) -> None:
        for path, text in files.items():
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
