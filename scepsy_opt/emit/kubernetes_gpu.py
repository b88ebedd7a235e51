"""How the Kubernetes pods get their GPUs: one mechanism per node, DRA claims for MPS.

The NVIDIA GPU Operator runs either the device plugin (``nvidia.com/gpu``, MIG's
``nvidia.com/mig-<profile>``) or NVIDIA's DRA driver on a node, not both. So every node gets one
mechanism (:func:`node_mechanisms`): ``dra`` when an MPS-shared instance runs on it (MPS is
only available through the DRA driver), else ``device-plugin``. On a ``dra`` node:

- the instances that share a GPU group under MPS reference one ResourceClaim
  (:func:`shared_claim`): one request for ``tp`` full GPUs (``allocationMode: ExactCount``,
  ``count: tp``) with the driver's ``GpuConfig`` MPS sharing, so the driver starts one MPS
  control daemon for the claim and every container on it talks to that daemon (a container can
  reach one daemon only, so a TP group cannot be made of one claim per GPU). Groups that overlap
  on a node are joined into one claim (:func:`shared_groups`); an instance on part of it picks
  its GPUs with ``CUDA_VISIBLE_DEVICES`` (:func:`claim_env`). Each pod sets its own limits
  (``CUDA_MPS_ACTIVE_THREAD_PERCENTAGE``, ``CUDA_MPS_PINNED_DEVICE_MEM_LIMIT`` keyed by the
  device ordinals 0..tp-1 the instance sees).
- whole-GPU instances get a ResourceClaimTemplate of ``tp`` full GPUs without sharing (one
  claim per pod, exclusive), not ``nvidia.com/gpu``.

The driver publishes no GPU index (since v25.8.0): which of the node's free GPUs a claim gets is
the scheduler's choice, the plan's GPU ids are kept as annotations. Selectors use only
attributes of the targeted driver version (:data:`ATTRIBUTES_FILE`, checked by
:func:`check_selector`). What the cluster needs (the driver version, its ``MPSSupport``
feature gate, the per-node mechanism) is written to the manifests' README (:func:`readme`).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from typing import Any

from scepsy_opt.core.errors import EmitError
from scepsy_opt.core.names import dns_label
from scepsy_opt.emit.record import MPS, WHOLE, InstanceRecord, LaunchPlan
from scepsy_opt.emit.schemas import load_schema

DRA, DEVICE_PLUGIN = "dra", "device-plugin"
ATTRIBUTES_FILE = "nvidia-dra-gpu-attributes.json"
GPU_CONFIG_API = "resource.nvidia.com/v1beta1"
FEATURE_GATE = "MPSSupport"
REQUEST = "gpus"  # the request name in every claim, and the claim's name in every pod
_ATTRIBUTE = re.compile(r'device\.attributes\["([^"]+)"\]\.([A-Za-z_][A-Za-z0-9_]*)')


@functools.cache
def driver_attributes() -> dict[str, Any]:
    """The vendored attribute list of the targeted driver version (see ``schemas/SOURCE.md``)."""
    return load_schema(ATTRIBUTES_FILE)


def selector_attributes(expression: str) -> list[tuple[str, str]]:
    """The ``(domain, name)`` of every ``device.attributes["domain"].name`` in a CEL
    expression."""
    return _ATTRIBUTE.findall(expression)


def check_selector(expression: str, *, source: str) -> str:
    """``expression`` if every attribute it reads is one the targeted driver publishes."""
    known = driver_attributes()["attributes"]
    for domain, name in selector_attributes(expression):
        if name not in known.get(domain, ()):
            raise EmitError(f"the DRA selector reads {domain}/{name}, an attribute "
                            f"{driver_attributes()['release']} does not publish", source=source,
                            value=expression, fix="select on an attribute of "
                            f"schemas/{ATTRIBUTES_FILE}")
    return expression


def node_mechanisms(plan: LaunchPlan) -> dict[str, str]:
    """Per node of the plan: ``dra`` when an MPS instance runs on it, else ``device-plugin``."""
    dra = {g.node for r in plan.records if r.mechanism == MPS for g in r.nodes}
    return {node: DRA if node in dra else DEVICE_PLUGIN for node in plan.nodes}


def check_mechanisms(plan: LaunchPlan, mechanisms: dict[str, str]) -> None:
    """A pod template placed on several nodes (the workers of a group that spans nodes) needs
    one mechanism on all of them."""
    for r in plan.records:
        workers = {mechanisms[g.node] for g in r.nodes[1:]}
        if len(workers) > 1:
            raise EmitError(f"{r.name}: its worker nodes mix GPU mechanisms "
                            f"({', '.join(sorted(workers))}): one pod template cannot use both",
                            source=plan.source, field="instances",
                            value=[g.node for g in r.nodes[1:]],
                            fix="place MPS-shared instances off the nodes of groups that span "
                                "nodes, or give the group whole nodes only")


def shared_groups(plan: LaunchPlan) -> dict[tuple[str, tuple[int, ...]], list[str]]:
    """``{(node, GPU ids): instance names}`` of the MPS-shared GPU groups: on each node, the
    GPUs of MPS instances joined while they overlap (a TP-8 group at 0.75 beside two TP-4
    groups at 0.25 is one group of 8 GPUs). Each group is one claim, hence one MPS daemon, as a
    container reaches one daemon only."""
    order = {r.name: i for i, r in enumerate(plan.records)}
    by_node: dict[str, list[tuple[set[int], list[str]]]] = defaultdict(list)
    for r in plan.records:
        if r.mechanism != MPS:
            continue
        gpus, names, kept = set(r.gpus), [r.name], []
        for other_gpus, other_names in by_node[r.node]:
            if other_gpus & gpus:
                gpus |= other_gpus
                names += other_names
            else:
                kept.append((other_gpus, other_names))
        by_node[r.node] = [*kept, (gpus, names)]
    groups = {(node, tuple(sorted(gpus))): sorted(names, key=order.__getitem__)
              for node, parts in by_node.items() for gpus, names in parts}
    return dict(sorted(groups.items(), key=lambda item: order[item[1][0]]))


def group_of(plan: LaunchPlan, record: InstanceRecord) -> tuple[int, ...]:
    """The GPU ids of the shared group (claim) an MPS instance belongs to."""
    return next(gpus for (node, gpus), names in shared_groups(plan).items()
                if record.name in names)


def claim_env(plan: LaunchPlan, record: InstanceRecord, mechanism: str
              ) -> list[tuple[str, str]]:
    """The devices an MPS instance uses of its group's claim: a claim's devices appear in the
    container in PCI bus order (the same in every pod of the claim), so an instance on part of
    the group selects its positions in the group with ``CUDA_VISIBLE_DEVICES``."""
    if mechanism != DRA or record.mechanism != MPS:
        return []
    group = group_of(plan, record)
    if tuple(sorted(record.gpus)) == group:
        return []
    return [("CUDA_DEVICE_ORDER", "PCI_BUS_ID"),
            ("CUDA_VISIBLE_DEVICES", ",".join(str(group.index(g)) for g in record.gpus))]


def claim_name(node: str, gpus: tuple[int, ...]) -> str:
    return dns_label(f"gpus-{node}-{'-'.join(map(str, sorted(gpus)))}")


def template_name(record: InstanceRecord) -> str:
    return dns_label(f"{record.name}-gpus")


def _request(count: int, device_class: str, source: str) -> dict[str, Any]:
    expression = check_selector(f'device.attributes["{device_class}"].type == "gpu"',
                                source=source)
    return {"name": REQUEST, "exactly": {
        "deviceClassName": device_class, "allocationMode": "ExactCount", "count": count,
        "selectors": [{"cel": {"expression": expression}}]}}


def shared_claim(node: str, gpus: tuple[int, ...], plan: LaunchPlan,
                 metadata: dict[str, Any]) -> dict[str, Any]:
    """The ResourceClaim of an MPS-shared GPU group: ``len(gpus)`` full GPUs, MPS sharing."""
    device_class = plan.settings.kubernetes.device_class
    return {
        "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": metadata,
        "spec": {"devices": {
            "requests": [_request(len(gpus), device_class, plan.source)],
            "config": [{"requests": [REQUEST], "opaque": {
                "driver": device_class,
                "parameters": {"apiVersion": GPU_CONFIG_API, "kind": "GpuConfig",
                               "sharing": {"strategy": "MPS",
                                           "mpsConfig": {"defaultActiveThreadPercentage": 100}}},
            }}],
        }},
    }


def claim_template(record: InstanceRecord, plan: LaunchPlan, metadata: dict[str, Any]
                   ) -> dict[str, Any]:
    """The ResourceClaimTemplate of a whole-GPU instance on a ``dra`` node: ``tp`` full GPUs
    for each of its pods, not shared."""
    device_class = plan.settings.kubernetes.device_class
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaimTemplate",
            "metadata": metadata,
            "spec": {"spec": {"devices": {
                "requests": [_request(record.tp, device_class, plan.source)]}}}}


def gpu_limits(record: InstanceRecord, mechanism: str) -> dict[str, Any]:
    """The device-plugin resources of a container (empty on a ``dra`` node)."""
    if mechanism == DRA:
        return {}
    if record.mechanism == WHOLE:
        return {"nvidia.com/gpu": record.tp}
    return {f"nvidia.com/mig-{record.mig_profile}": 1}


def pod_claims(plan: LaunchPlan, record: InstanceRecord, mechanism: str
               ) -> list[dict[str, str]]:
    """The pod's ``resourceClaims`` (empty on a ``device-plugin`` node)."""
    if mechanism != DRA:
        return []
    if record.mechanism == MPS:
        return [{"name": REQUEST,
                 "resourceClaimName": claim_name(record.node, group_of(plan, record))}]
    return [{"name": REQUEST, "resourceClaimTemplateName": template_name(record)}]


def readme(plan: LaunchPlan, mechanisms: dict[str, str]) -> list[str]:
    """The GPU prerequisites of the manifests (markdown lines)."""
    attrs = driver_attributes()
    lines = ["## GPUs", "", "| node | GPU mechanism |", "| :--- | :--- |"]
    lines += [f"| {node} | {mechanism} |" for node, mechanism in mechanisms.items()]
    lines.append("")
    if DEVICE_PLUGIN in mechanisms.values():
        lines += ["- `device-plugin` nodes: the NVIDIA device plugin (GPU Operator default) "
                  "serves `nvidia.com/gpu`; MIG slices need its `mixed` strategy "
                  "(`nvidia.com/mig-<profile>`)."]
    if DRA in mechanisms.values():
        lines += [
            f"- `dra` nodes: {attrs['release']} ({attrs['repository']}), Kubernetes 1.34 or "
            "later (`resource.k8s.io/v1`), with the driver's alpha feature gate "
            f"`{FEATURE_GATE}` on: `helm install dra-driver-nvidia-gpu "
            "oci://registry.k8s.io/dra-driver-nvidia/charts/dra-driver-nvidia-gpu --version "
            "0.5.0 --namespace dra-driver-nvidia-gpu --create-namespace --set "
            f"gpuResourcesEnabledOverride=true --set featureGates.{FEATURE_GATE}=true`. "
            "`ConsumableShares` (MPS is refused with it) and `DynamicMIG` (mutually exclusive "
            f"with `{FEATURE_GATE}`) stay off.",
            "- The device plugin must not run on `dra` nodes (the GPU Operator refuses both on "
            "one node): label them `nvidia.com/gpu.deploy.device-plugin=false`.",
            "- MPS-shared instances of one GPU group share one ResourceClaim (one MPS daemon); "
            "whole-GPU instances on `dra` nodes get a ResourceClaimTemplate each. The scheduler "
            "picks which free GPUs of the node a claim gets (the driver publishes no GPU index); "
            "the plan's GPU ids are in the `scepsy-opt/placement` annotations.",
            f"- Selectors read only attributes the driver publishes ({ATTRIBUTES_FILE}, from "
            f"{attrs['repository']} at {attrs['commit'][:12]}, {attrs['path']})."]
    return lines
