"""The catalog: llm specs (``models/<id>/spec.yaml``), GPU specs (``models/gpus/<id>.yaml``), and
the expansion of a cluster config into explicit nodes.

Every file is validated on load; an error names the file, the field, the value and the fix.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from scepsy_opt.core.constants import MAX_CLUSTER_NODES, MAX_SERVING_OVERHEAD_MS
from scepsy_opt.core.errors import CatalogError, ConfigError, ScepsyError, not_utf8
from scepsy_opt.core.names import check_label_value, check_name
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.types import (
    DTYPE_BYTES,
    LLM_TASKS,
    Catalog,
    ClusterSpec,
    GpuSpec,
    LlmSpec,
    MigProfile,
    NodeSpec,
    ServingOverrides,
)

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
GPU_FOLDER = "gpus"
_LLM_INT_FIELDS = (
    "parameters", "num_layers", "hidden_size", "intermediate_size", "num_attention_heads",
    "num_kv_heads", "head_dim", "vocab_size", "max_context_tokens", "weight_bytes",
)
_LLM_STR_FIELDS = ("id", "hf_id", "source", "task", "architecture", "dtype")
_GPU_NUM_FIELDS = ("memory_gib", "hbm_bandwidth_gb_s", "bf16_dense_tflops", "nvlink_gb_s",
                   "pcie_gb_s")


def load_yaml(path: Path) -> Any:
    """Parse one YAML file; malformed YAML raises :class:`CatalogError` with line and column."""
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise CatalogError(f"malformed YAML{where}: {problem}", source=str(path),
                           fix="fix the YAML syntax (indentation, brackets, quotes)") from None
    except UnicodeDecodeError as exc:
        raise not_utf8(exc, str(path), CatalogError) from None
    except OSError as exc:
        raise CatalogError(f"cannot read the file ({exc.strerror})", source=str(path),
                           fix="check the path and its permissions") from None


def _require_mapping(raw: Any, source: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise CatalogError("expected a YAML mapping at the top level", source=source,
                           value=type(raw).__name__, fix="write key: value lines")
    return raw


def _field(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], source: str,
           fix: str) -> Any:
    if key not in raw:
        raise CatalogError("missing field", source=source, field=key, fix=fix)
    value = raw[key]
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise CatalogError("wrong type", source=source, field=key, value=value, fix=fix)
    return value


def parse_llm_spec(raw: Any, source: str, *, folder: str, has_vllm_config: bool) -> LlmSpec:
    raw = _require_mapping(raw, source)
    values: dict[str, Any] = {}
    for key in _LLM_STR_FIELDS:
        values[key] = _field(raw, key, str, source, f"set {key} to a string")
    for key in _LLM_INT_FIELDS:
        values[key] = _field(raw, key, int, source, f"set {key} to a positive integer")
        if values[key] <= 0:
            raise CatalogError("must be a positive integer", source=source, field=key,
                               value=values[key], fix=f"set {key} from the llm's config.json")
    values["tie_word_embeddings"] = _field(raw, "tie_word_embeddings", bool, source,
                                           "set tie_word_embeddings: true or false")
    check_name(values["id"], what="an llm id", source=source, field="id", error=CatalogError)
    if values["id"] != folder:
        raise CatalogError("the id differs from the folder name", source=source, field="id",
                           value=values["id"], fix=f"set id: {folder} or rename the folder")
    if values["task"] not in LLM_TASKS:
        raise CatalogError("unknown task", source=source, field="task", value=values["task"],
                           fix=f"use one of {', '.join(LLM_TASKS)}")
    if values["dtype"] not in DTYPE_BYTES:
        raise CatalogError("unknown dtype", source=source, field="dtype", value=values["dtype"],
                           fix=f"use one of {', '.join(DTYPE_BYTES)}")
    expected_bytes = values["parameters"] * DTYPE_BYTES[values["dtype"]]
    if values["weight_bytes"] != expected_bytes:
        raise CatalogError("weight_bytes is not parameters x dtype bytes", source=source,
                           field="weight_bytes", value=values["weight_bytes"],
                           fix=f"set weight_bytes: {expected_bytes}")
    if values["num_attention_heads"] % values["num_kv_heads"]:
        raise CatalogError("attention heads are not a multiple of KV heads", source=source,
                           field="num_kv_heads", value=values["num_kv_heads"],
                           fix="copy num_key_value_heads from the llm's config.json")
    return LlmSpec(
        **values,
        license=str(raw.get("license", "")),
        test_only=bool(raw.get("test_only", False)),
        has_vllm_config=has_vllm_config,
        serving=parse_serving(raw.get("serving"), source, task=values["task"],
                              architecture=values["architecture"]),
    )


_SERVING_KEYS = ("hf_overrides", "source")
# Tasks vLLM serves with runner pooling: a causal-LM checkpoint becomes an embedding model
# there unless its overrides name a classification or reward architecture.
_POOLING_TASKS = ("score", "reward")
_SERVING_FIX = ("give serving: {hf_overrides: {architectures: [...], ...}, source: <URL>} as "
                "vLLM documents for the checkpoint")


def parse_serving(raw: Any, source: str, *, task: str, architecture: str) -> ServingOverrides:
    """The ``serving:`` block of an llm spec: vLLM's ``hf_overrides`` for the checkpoint, with
    the ``source`` that documents them. A ``score`` or ``reward`` llm whose checkpoint is a
    causal LM (``*ForCausalLM``) must override the architecture."""
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping) or set(raw) - set(_SERVING_KEYS):
        raise CatalogError(f"serving must be a mapping of {', '.join(_SERVING_KEYS)}",
                           source=source, field="serving", value=raw, fix=_SERVING_FIX)
    overrides = raw.get("hf_overrides") or {}
    if not isinstance(overrides, Mapping) or not all(isinstance(k, str) for k in overrides):
        raise CatalogError("hf_overrides must be a mapping of config.json keys",
                           source=source, field="serving.hf_overrides", value=overrides,
                           fix=_SERVING_FIX)
    try:
        text = json.dumps(dict(overrides), sort_keys=True, allow_nan=False) if overrides else ""
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"hf_overrides is not plain JSON ({exc})", source=source,
                           field="serving.hf_overrides", value=overrides,
                           fix="use strings, numbers, booleans, lists and mappings") from None
    served = overrides.get("architectures", [architecture])
    if not isinstance(served, list) or not served or not all(
            isinstance(a, str) and a for a in served):
        raise CatalogError("architectures must be a non-empty list of class names",
                           source=source, field="serving.hf_overrides.architectures",
                           value=served, fix="e.g. [GemmaForSequenceClassification]")
    if task in _POOLING_TASKS and served[0].endswith("ForCausalLM"):
        raise CatalogError(f"a {task} llm served as {served[0]} becomes an embedding model in "
                           "vLLM (runner pooling converts a causal LM to embeddings)",
                           source=source, field="serving.hf_overrides.architectures",
                           value=served, fix=_SERVING_FIX)
    src = raw.get("source", "")
    if overrides and not (isinstance(src, str) and src.strip()):
        raise CatalogError("serving overrides must cite where vLLM documents them",
                           source=source, field="serving.source", value=src or None,
                           fix="set source: to the vLLM documentation or example URL")
    return ServingOverrides(hf_overrides_json=text, source=str(src))


def parse_gpu_spec(raw: Any, source: str, *, stem: str) -> GpuSpec:
    raw = _require_mapping(raw, source)
    gpu_id = _field(raw, "id", str, source, "set id to the GPU type name")
    check_name(gpu_id, what="a GPU id", source=source, field="id", error=CatalogError)
    if gpu_id != stem:
        raise CatalogError("the id differs from the file name", source=source, field="id",
                           value=gpu_id, fix=f"set id: {stem} or rename the file")
    numbers = {}
    for key in _GPU_NUM_FIELDS:
        value = _field(raw, key, (int, float), source, f"set {key} to a number")
        if value < 0 or (key != "nvlink_gb_s" and value == 0) or not math.isfinite(value):
            raise CatalogError("out of range", source=source, field=key, value=value,
                               fix=f"set {key} from the GPU's datasheet")
        numbers[key] = float(value)
    sm_count = _field(raw, "sm_count", int, source, "set sm_count to an integer")
    profiles = []
    for i, entry in enumerate(raw.get("mig_profiles") or []):
        here = f"mig_profiles[{i}]"
        if not isinstance(entry, Mapping):
            raise CatalogError("expected a mapping", source=source, field=here, value=entry,
                               fix="write {name, compute_slices, total_slices, memory_gib, "
                                   "max_instances}")
        try:
            profile = MigProfile(
                name=str(entry["name"]), compute_slices=int(entry["compute_slices"]),
                total_slices=int(entry["total_slices"]), memory_gib=float(entry["memory_gib"]),
                max_instances=int(entry["max_instances"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CatalogError(f"malformed MIG profile ({exc})", source=source, field=here,
                               value=dict(entry), fix="give name, compute_slices, total_slices, "
                                                      "memory_gib and max_instances") from None
        if not 0 < profile.compute_slices <= profile.total_slices or profile.memory_gib > \
                numbers["memory_gib"]:
            raise CatalogError("MIG profile exceeds the GPU", source=source, field=here,
                               value=dict(entry), fix="copy the profile from the MIG user guide")
        profiles.append(profile)
    sources = raw.get("sources") or []
    if not sources:
        raise CatalogError("a GPU spec must cite its sources", source=source, field="sources",
                           fix="list the datasheets the numbers come from")
    return GpuSpec(
        id=gpu_id, vendor=str(raw.get("vendor", "")), sm_count=sm_count,
        form_factor=str(raw.get("form_factor", "")), mig_profiles=tuple(profiles),
        sources=tuple(str(s) for s in sources), **numbers,
    )


def load_catalog(models_dir: Path | None = None) -> Catalog:
    """Load every llm and GPU spec under ``models_dir`` (default: the shipped ``models/``)."""
    if models_dir is None:
        return _default_catalog()
    return _load_catalog(Path(models_dir))


@functools.lru_cache(maxsize=1)
def _default_catalog() -> Catalog:
    return _load_catalog(data_dir("models"))


def _load_catalog(models_dir: Path) -> Catalog:
    llms: dict[str, LlmSpec] = {}
    for spec_path in sorted(models_dir.glob("*/spec.yaml")):
        folder = spec_path.parent
        llms[folder.name] = parse_llm_spec(
            load_yaml(spec_path), str(spec_path), folder=folder.name,
            has_vllm_config=(folder / "config.json").is_file())
    gpus: dict[str, GpuSpec] = {}
    for gpu_path in sorted((models_dir / GPU_FOLDER).glob("*.yaml")):
        gpus[gpu_path.stem] = parse_gpu_spec(load_yaml(gpu_path), str(gpu_path),
                                             stem=gpu_path.stem)
    if not llms or not gpus:
        raise CatalogError("the catalog is empty", source=str(models_dir),
                           fix="add models/<llm>/spec.yaml and models/gpus/<gpu>.yaml files")
    return Catalog(llms=llms, gpus=gpus)


def unknown(kind: str, value: str, known: list[str], *, source: str, field: str) -> CatalogError:
    """An error for an unknown id, suggesting close matches."""
    close = difflib.get_close_matches(value, known, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return CatalogError(f"unknown {kind}", source=source, field=field, value=value,
                        fix=f"{hint}known: {', '.join(known)}")


def expand_cluster(raw: Mapping[str, Any], catalog: Catalog, *, source: str) -> ClusterSpec:
    """Expand a ``conf/cluster`` config (node groups) into explicit nodes."""
    nodes: list[NodeSpec] = []
    groups = raw.get("node_groups") or []
    if not groups:
        raise ConfigError("a cluster needs at least one node group", source=source,
                          field="node_groups", fix="add node_groups: [{name, count, gpu, ...}]")
    check_name(raw.get("name"), what="a cluster name", source=source, field="name")
    names = [check_name(g["name"], what="a node group name", source=source,
                        field=f"node_groups[{i}].name") for i, g in enumerate(groups)]
    if len(set(names)) != len(names):
        raise ConfigError("node group names repeat", source=source, field="node_groups",
                          value=names, fix="give every node group a distinct name")
    for i, group in enumerate(groups):
        here = f"node_groups[{i}]"
        if group["gpu"] not in catalog.gpus:
            raise unknown("GPU", group["gpu"], sorted(catalog.gpus), source=source,
                          field=f"{here}.gpu")
        for key in ("count", "gpus_per_node", "nodes_per_rack"):
            if group[key] <= 0:
                raise ConfigError("must be > 0", source=source, field=f"{here}.{key}",
                                  value=group[key], fix=f"set {key} to a positive integer")
        if group["network_gb_s"] <= 0:
            raise ConfigError("must be > 0", source=source, field=f"{here}.network_gb_s",
                              value=group["network_gb_s"],
                              fix="set the node's inter-node network bandwidth in GB/s")
        if len(nodes) + group["count"] > MAX_CLUSTER_NODES:
            raise ConfigError(f"the cluster would have more than {MAX_CLUSTER_NODES} nodes",
                              source=source, field=f"{here}.count", value=group["count"],
                              fix=f"describe at most {MAX_CLUSTER_NODES} nodes in all (plan "
                                  "the part of the cluster the workflow is to run on)")
        domains = _domains(group, catalog.gpus[group["gpu"]], source, here)
        width = max(2, len(str(group["count"] - 1)))
        _check_node_id(f"{group['name']}-{group['count'] - 1:0{width}d}", source, here)
        for n in range(group["count"]):
            rack = n // group["nodes_per_rack"]
            nodes.append(NodeSpec(
                id=f"{group['name']}-{n:0{width}d}",
                gpu=group["gpu"],
                num_gpus=group["gpus_per_node"],
                rack=f"{group['name']}-rack{rack:02d}",
                nvlink_domains=domains,
                network_gb_s=float(group["network_gb_s"]),
            ))
    overhead = raw.get("serving_overhead_ms", 0.0)
    if isinstance(overhead, bool) or not isinstance(overhead, int | float) \
            or not math.isfinite(overhead) or not 0 <= overhead <= MAX_SERVING_OVERHEAD_MS:
        raise ConfigError(f"must be a number of milliseconds in [0, {MAX_SERVING_OVERHEAD_MS}]",
                          source=source, field="serving_overhead_ms", value=overhead,
                          fix="give the time a call spends outside the engine (HTTP, router, "
                              "client), e.g. 5; 0 for none")
    return ClusterSpec(name=str(raw["name"]), description=str(raw.get("description", "")),
                       nodes=tuple(nodes), serving_overhead_ms=float(overhead))


def _check_node_id(node_id: str, source: str, here: str) -> None:
    """A node id (``<node group>-<index>``; the longest one of a group is checked) is a name
    and a Kubernetes label value (nodeAffinity matches it against ``kubernetes.io/hostname``)."""
    fix = "shorten the node group's name so '<name>-<index>' fits 63 characters"
    try:
        check_name(node_id, what="a node id", source=source, field=f"{here}.name")
        check_label_value(node_id, what="a node id")
    except ScepsyError as exc:  # the name rule's or the label rule's error, as a config error
        raise ConfigError(f"the node ids of this group are not valid: {exc.problem}",
                          source=source, field=f"{here}.name", value=node_id, fix=fix) from None


def main_gpu_type(cluster: ClusterSpec) -> str:
    """The GPU type of most of the cluster's GPUs (ties: the first by name)."""
    counts: dict[str, int] = {}
    for node in cluster.nodes:
        counts[node.gpu] = counts.get(node.gpu, 0) + node.num_gpus
    return max(sorted(counts), key=counts.__getitem__)


def _domains(group: Mapping[str, Any], gpu: GpuSpec, source: str, here: str
             ) -> tuple[tuple[int, ...], ...]:
    count = group["gpus_per_node"]
    explicit, size = group.get("nvlink_domains"), group.get("nvlink_domain_size")
    if explicit is not None and size is not None:
        raise ConfigError("give either nvlink_domains or nvlink_domain_size", source=source,
                          field=here, fix="drop one of the two")
    if explicit is None:
        size = 1 if size is None and not gpu.has_nvlink else (size or count)
        if size <= 0 or count % size:
            raise ConfigError("nvlink_domain_size must divide gpus_per_node", source=source,
                              field=f"{here}.nvlink_domain_size", value=size,
                              fix=f"use a divisor of {count}")
        domains = tuple(tuple(range(s, s + size)) for s in range(0, count, size))
    else:
        domains = tuple(tuple(int(x) for x in d) for d in explicit)
        flat = sorted(x for d in domains for x in d)
        if flat != list(range(count)) or any(not d for d in domains):
            raise ConfigError("nvlink_domains must partition the GPU indices 0..gpus_per_node-1",
                              source=source, field=f"{here}.nvlink_domains", value=explicit,
                              fix=f"list every index 0..{count - 1} in exactly one domain")
    if not gpu.has_nvlink and any(len(d) > 1 for d in domains):
        raise ConfigError(f"{gpu.id} has no NVLink, so NVLink domains must be single GPUs",
                          source=source, field=here, value=[list(d) for d in domains],
                          fix="set nvlink_domain_size: 1")
    return domains
