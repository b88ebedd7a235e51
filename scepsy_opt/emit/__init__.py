"""The emit stage: launch manifests (vLLM, Kubernetes, Ray Serve LLM, plan.json) of a placed
plan, validated offline before anything is written."""

from scepsy_opt.emit.record import InstanceRecord, LaunchPlan, PlannedInstance
from scepsy_opt.emit.settings import EmitSettings, KubernetesOptions, RayServeOptions, VllmOptions
from scepsy_opt.emit.stage import EmitResult, emit

__all__ = ["EmitResult", "EmitSettings", "InstanceRecord", "KubernetesOptions", "LaunchPlan",
           "PlannedInstance", "RayServeOptions", "VllmOptions", "emit"]
