"""Fit the roofline efficiencies per GPU type to measured public data, and report the error.

Run ``python -m scepsy_opt.profile.calibrate`` to refit and rewrite
``models/calibration/roofline_params.yaml``; ``--check`` only prints the error report of the
shipped parameters. Data (``models/calibration/``, see its ``SOURCE.md``):

1. **Per-operator times** of transformer layers on A100 and H100 at TP 1/2/4/8 (vidur): fit the
   GEMM compute and memory efficiencies, launch overheads and the smooth-max exponent, and the
   element-wise efficiencies, by least squares on log time, **on some llms**; the error is
   reported on **other llms** (:data:`OPS_SPLIT`), per operator and per layer (sum of a layer's
   operators).
2. **NCCL all-reduce times** by message size and group size (vidur): latency and bus bandwidth
   per topology and group size by relative least squares on the even-indexed sizes, error on the
   odd-indexed ones.
3. **End-to-end vLLM latencies** of batches of identical requests (LLM-Inference-Bench, A100 40GB
   and GH200): with the operator efficiencies fixed, fit the attention efficiencies and the
   per-step and per-sequence engine overheads on some llms, report the error on the others
   (:data:`E2E_SPLIT`).

GPU types without data of their own inherit from the closest measured part (same die), as
:data:`INHERIT` states, and say so in their ``source``. The MPS bandwidth-saturation fraction is
a modelling assumption (:data:`BANDWIDTH_SATURATION_FRACTION`), not fitted.

JAX and optax are imported only here (fitting), never when profiles are generated.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.core.markdown import table
from scepsy_opt.core.memory import MemorySettings, memory_plan
from scepsy_opt.core.roofline import (
    PARAMS_FILE,
    VIDUR_OPS,
    AllReduceFit,
    Arch,
    Hardware,
    RooflineParams,
    allreduce_ms,
    batch_latency,
    calibration_dir,
    embedding_ms,
    layer_ops_ms,
    load_roofline_params,
    topology_of,
)
from scepsy_opt.core.types import GpuSpec, LlmSpec

log = logging.getLogger(__name__)

BANDWIDTH_SATURATION_FRACTION = 0.6
# Which llms fit the per-operator model and which test it, per measured GPU.
OPS_SPLIT = {
    "a100": {
        "train": ("meta-llama__Llama-2-7b-hf", "meta-llama__Llama-2-70b-hf",
                  "codellama__CodeLlama-34b-Instruct-hf", "Qwen__Qwen-72B"),
        "test": ("meta-llama__Meta-Llama-3-8B", "meta-llama__Meta-Llama-3-70B",
                 "internlm__internlm-20b", "microsoft__phi-2"),
    },
    "h100": {
        "train": ("meta-llama__Llama-2-7b-hf", "meta-llama__Llama-2-70b-hf",
                  "codellama__CodeLlama-34b-Instruct-hf"),
        "test": ("Qwen__Qwen-72B", "internlm__internlm-20b", "microsoft__phi-2"),
    },
}
OPS_GPU = {"a100": "A100-SXM-80GB", "h100": "H100-SXM-80GB"}
ALLREDUCE_TOPOLOGIES = {"a100_dgx": "A100-SXM-80GB", "a100_pairwise_nvlink": "A100-PCIe-80GB",
                        "h100_dgx": "H100-SXM-80GB"}
# End-to-end rows: benchmark hardware -> catalog GPU, and which llms fit / test.
E2E_GPU = {"Nvidia A100 GPU": "A100-SXM-40GB", "Nvidia GH200 GPU": "GH200-96GB"}
E2E_SPLIT = {
    "A100-SXM-40GB": {"train": ("meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1"),
                      "test": ("meta-llama/Meta-Llama-3-8B", "Qwen/Qwen2-7B",
                               "meta-llama/Llama-2-70b-hf")},
    "GH200-96GB": {"train": ("meta-llama/Llama-2-7b-hf", "huggyllama/llama-7b"),
                   "test": ("meta-llama/Meta-Llama-3-8B", "Qwen/Qwen2-7B", "Qwen/Qwen1.5-7B")},
}
# GPU type -> (operator data, all-reduce data, end-to-end data) it takes its parameters from.
INHERIT = {
    "A100-SXM-80GB": ("a100", "a100_dgx", "A100-SXM-40GB"),
    "A100-SXM-40GB": ("a100", "a100_dgx", "A100-SXM-40GB"),
    "A100-PCIe-80GB": ("a100", "a100_pairwise_nvlink", "A100-SXM-40GB"),
    "H100-SXM-80GB": ("h100", "h100_dgx", "GH200-96GB"),
    "H200-141GB": ("h100", "h100_dgx", "GH200-96GB"),
    "GH200-96GB": ("h100", "h100_dgx", "GH200-96GB"),
    "L40S-48GB": ("a100", None, "A100-SXM-40GB"),
}
# Parts with no operator measurements of their own (their die differs from the source's).
BORROWED = frozenset({"L40S-48GB"})
# PCIe all-reduce without measurements: NCCL ring latency and this share of the link bandwidth.
PCIE_ALLREDUCE_LATENCY_US = 25.0
PCIE_ALLREDUCE_EFFICIENCY = 0.7


# ------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class OpGroup:
    """Per-operator measurements of one llm at one TP degree, by token count."""

    model: str
    arch: Arch
    tp: int
    tokens: np.ndarray
    times_ms: dict[str, np.ndarray]


def load_ops(gpu_key: str) -> dict[str, list[OpGroup]]:
    """Per model, the operator groups of ``calibration/vidur_ops/<gpu_key>__*.csv``."""
    out: dict[str, list[OpGroup]] = {}
    for path in sorted((calibration_dir() / "vidur_ops").glob(f"{gpu_key}__*.csv")):
        model = path.stem.split("__", 1)[1]
        rows = list(csv.DictReader(path.open()))
        first = rows[0]
        parallel = first["post_attention_layernorm_median_ms"] == ""
        arch = Arch(layers=1, hidden=int(first["n_embd"]), heads=int(first["n_head"]),
                    kv_heads=int(first["n_kv_head"]),
                    head_dim=int(first["n_embd"]) // int(first["n_head"]),
                    intermediate=int(first["n_expanded_embd"]), vocab=int(first["vocab_size"]),
                    gated_mlp=first["use_gated_mlp"] == "True", parallel_attention=parallel)
        by_tp: dict[int, list[dict[str, str]]] = defaultdict(list)
        for row in rows:
            by_tp[int(row["num_tensor_parallel_workers"])].append(row)
        groups = []
        for tp, tp_rows in sorted(by_tp.items()):
            ops = [op for op in (*VIDUR_OPS, "emb") if tp_rows[0][f"{op}_median_ms"] != ""]
            groups.append(OpGroup(
                model=model, arch=arch, tp=tp,
                tokens=np.array([float(r["num_tokens"]) for r in tp_rows]),
                times_ms={op: np.array([float(r[f"{op}_median_ms"]) for r in tp_rows])
                          for op in ops},
            ))
        out[model] = groups
    return out


def predict_ops(group: OpGroup, p: dict, hw: Hardware, xp: Any = np) -> dict[str, Any]:
    ops = layer_ops_ms(group.arch, group.tp, group.tokens, p, hw, xp=xp)
    ops["emb"] = embedding_ms(group.arch, group.tokens, p, hw)
    return {op: ops[op] for op in group.times_ms}


@dataclass(frozen=True)
class AllReduceData:
    topology: str
    num_gpus: int
    size: np.ndarray
    time_ms: np.ndarray


def load_allreduce(topology: str) -> list[AllReduceData]:
    rows = list(csv.DictReader((calibration_dir() / "vidur_allreduce" / f"{topology}.csv").open()))
    groups: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for row in rows:
        if row["num_workers"] != row["devices_per_node"]:
            continue  # inter-node groups: not a tensor-parallel case
        groups[int(row["num_workers"])].append((float(row["size"]),
                                                float(row["all_reduce_median_ms"])))
    out = []
    for n, points in sorted(groups.items()):
        points.sort()
        out.append(AllReduceData(topology, n, np.array([s for s, _ in points]),
                                 np.array([t for _, t in points])))
    return out


@dataclass(frozen=True)
class E2ERow:
    gpu: str
    model: str
    tp: int
    batch: int
    prompt: int
    output: int
    latency_ms: float
    metric: str  # "e2e" (whole batch) or "ttft"


def bench_architectures() -> dict[str, dict[str, Any]]:
    path = calibration_dir() / "llm_inference_bench" / "architectures.yaml"
    with path.open() as handle:
        return yaml.safe_load(handle)


def bench_arch(model: str, catalog_llms: dict[str, LlmSpec]) -> tuple[Arch, int]:
    """Architecture and max context of a benchmarked llm (``architectures.yaml``)."""
    entry = bench_architectures()[model]
    if "catalog" in entry:
        llm = catalog_llms[entry["catalog"]]
        return Arch.of(llm), llm.max_context_tokens
    return Arch(layers=entry["layers"], hidden=entry["hidden"], heads=entry["heads"],
                kv_heads=entry["kv_heads"], head_dim=entry["head_dim"],
                intermediate=entry["intermediate"], vocab=entry["vocab"]), entry["max_context"]


def load_e2e() -> list[E2ERow]:
    """The end-to-end rows of llms with a known architecture. Rows whose prompt plus output
    exceed the llm's context are left out: the engine cannot run them as specified (their
    recorded latencies are those of truncated runs)."""
    known = bench_architectures()
    folder = calibration_dir() / "llm_inference_bench"
    rows = []
    for row in csv.DictReader((folder / "vllm_a100_gh200.csv").open()):
        if row["Model"] not in known or row["Hardware"] not in E2E_GPU:
            continue
        length = int(row["Input Output Length"])
        if 2 * length > known[row["Model"]].get("max_context", 10**9):
            continue
        rows.append(E2ERow(E2E_GPU[row["Hardware"]], row["Model"], int(row["Num of Hardware"]),
                           int(row["Batch Size"]), length, length,
                           float(row["Latency"]) * 1e3, "e2e"))
    for row in csv.DictReader((folder / "TTFT_ITL.csv").open()):
        if row["Framework"] != "vLLM" or row["Model"] not in known or \
                row["Hardware"] not in E2E_GPU:
            continue
        rows.append(E2ERow(E2E_GPU[row["Hardware"]], row["Model"], int(row["Num of Hardware"]),
                           int(row["Batch Size"]), int(row["Input Length"]),
                           int(row["Output Length"]), float(row["TTFT Latency"]) * 1e3, "ttft"))
    return rows


# ------------------------------------------------------------------------------ fitting


def _fit(init: dict[str, float], transforms: dict[str, tuple[Callable, Callable]],
         loss_of: Callable[[dict], Any], steps: int = 1500, lr: float = 0.05) -> dict[str, float]:
    """Minimise ``loss_of(params)`` with optax Adam over unconstrained parameters."""
    import jax
    import jax.numpy as jnp
    import optax

    jax.config.update("jax_enable_x64", True)
    raw = {k: jnp.asarray(transforms[k][1](v)) for k, v in init.items()}

    def constrained(theta: dict) -> dict:
        return {k: transforms[k][0](v) for k, v in theta.items()}

    def objective(theta: dict) -> Any:
        return loss_of(constrained(theta))

    optimiser = optax.adam(lr)
    state = optimiser.init(raw)

    @jax.jit
    def step(theta: dict, state: Any) -> tuple[dict, Any, Any]:
        value, grads = jax.value_and_grad(objective)(theta)
        updates, state = optimiser.update(grads, state)
        return optax.apply_updates(theta, updates), state, value

    value = math.nan
    for _ in range(steps):
        raw, state, value = step(raw, state)
    log.info("fit: final loss %.5f", float(value))
    return {k: float(v) for k, v in constrained(raw).items()}


def _sigmoid() -> tuple[Callable, Callable]:
    import jax.nn

    return jax.nn.sigmoid, lambda v: math.log(v / (1 - v))


def _bounded(low: float, high: float) -> tuple[Callable, Callable]:
    import jax.nn

    return ((lambda x: low + (high - low) * jax.nn.sigmoid(x)),
            (lambda v: math.log((v - low) / (high - v))))


def _positive() -> tuple[Callable, Callable]:
    import jax.numpy as jnp

    return jnp.exp, math.log


def _above_one() -> tuple[Callable, Callable]:
    import jax.numpy as jnp

    return (lambda x: 1.0 + jnp.exp(x)), (lambda v: math.log(v - 1.0))


def fit_ops(groups: list[OpGroup], hw: Hardware) -> dict[str, float]:
    import jax.numpy as jnp

    init = {"gemm_compute_eff": 0.7, "gemm_memory_eff": 0.8, "gemm_overhead_us": 5.0,
            "gemm_smoothness": 4.0, "norm_eff": 0.5, "rope_eff": 0.5, "act_eff": 0.5,
            "add_eff": 0.5, "emb_eff": 0.5, "elementwise_overhead_us": 3.0}
    transforms = {k: _sigmoid() for k in init}
    transforms.update({"gemm_overhead_us": _positive(), "elementwise_overhead_us": _positive(),
                       "gemm_smoothness": _above_one()})

    def loss(p: dict) -> Any:
        total, count = 0.0, 0
        for group in groups:
            predicted = predict_ops(group, p, hw, xp=jnp)
            for op, measured in group.times_ms.items():
                total = total + jnp.sum((jnp.log(predicted[op]) - np.log(measured)) ** 2)
                count += measured.size
        return total / count

    return _fit(init, transforms, loss)


def fit_allreduce(data: AllReduceData, every: slice = slice(0, None, 2)) -> AllReduceFit:
    """Relative least squares of ``t = a + b * 2 (n-1)/n * size`` (linear in a, b)."""
    n = data.num_gpus
    size, time = data.size[every], data.time_ms[every]
    volume = 2 * (n - 1) / n * size
    design = np.stack([np.ones_like(size) / time, volume / time], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, np.ones_like(size), rcond=None)
    a, b = max(a, 1e-4), max(b, 1e-12)
    # a in ms, b in ms per byte: bandwidth 1 / b bytes per ms = 1e3 / b bytes/s
    return AllReduceFit(num_gpus=n, latency_us=float(a) * 1e3, bus_gb_s=float(1e3 / b / 1e9))


@dataclass(frozen=True)
class E2EGroup:
    """End-to-end rows of one llm at one TP degree on one GPU, as arrays."""

    gpu: str
    model: str
    tp: int
    arch: Arch
    hardware: Hardware
    batch: np.ndarray
    prompt: np.ndarray
    output: np.ndarray
    concurrency: np.ndarray
    is_ttft: np.ndarray
    measured_ms: np.ndarray


def e2e_groups(rows: list[E2ERow], catalog: Any, memory: MemorySettings) -> list[E2EGroup]:
    """Group rows by (gpu, llm, tp); concurrency per row from the memory model (KV capacity)."""
    cells: dict[tuple[str, str, int], list[E2ERow]] = defaultdict(list)
    for row in rows:
        cells[(row.gpu, row.model, row.tp)].append(row)
    groups = []
    for (gpu_id, model, tp), members in sorted(cells.items()):
        arch, _ = bench_arch(model, catalog.llms)
        gpu = catalog.gpus[gpu_id]
        plan = memory_plan(_spec_from_arch(model, arch), gpu, tp, 1.0, memory)
        concurrency = [min(r.batch, plan.running_sequences(r.prompt, r.output))
                       for r in members]
        f64 = lambda values: np.array(values, dtype=np.float64)  # noqa: E731
        groups.append(E2EGroup(
            gpu=gpu_id, model=model, tp=tp, arch=arch, hardware=Hardware.of(gpu),
            batch=f64([r.batch for r in members]), prompt=f64([r.prompt for r in members]),
            output=f64([r.output for r in members]), concurrency=f64(concurrency),
            is_ttft=np.array([r.metric == "ttft" for r in members]),
            measured_ms=f64([r.latency_ms for r in members])))
    return groups


def _spec_from_arch(name: str, arch: Arch) -> LlmSpec:
    """A minimal llm spec for the memory model of a benchmarked llm outside the catalog."""
    per_layer = (arch.hidden * (arch.heads + 2 * arch.kv_heads) * arch.head_dim
                 + arch.heads * arch.head_dim * arch.hidden + 3 * arch.hidden * arch.intermediate
                 + 2 * arch.hidden)
    parameters = 2 * arch.vocab * arch.hidden + arch.layers * per_layer + arch.hidden
    return LlmSpec(id=name, hf_id=name, source="calibration", task="generate",
                   architecture="calibration", parameters=parameters, num_layers=arch.layers,
                   hidden_size=arch.hidden, intermediate_size=arch.intermediate,
                   num_attention_heads=arch.heads, num_kv_heads=arch.kv_heads,
                   head_dim=arch.head_dim, vocab_size=arch.vocab, max_context_tokens=4096,
                   dtype="bfloat16", weight_bytes=parameters * 2, tie_word_embeddings=False)


def predict_group(group: E2EGroup, p: dict, allreduce: dict[int, AllReduceFit],
                  max_batched_tokens: float, xp: Any = np) -> Any:
    ar = allreduce.get(group.tp) if group.tp > 1 else None
    ttft, _, e2e = batch_latency(group.arch, group.tp, group.batch, group.prompt, group.output,
                                 group.concurrency, max_batched_tokens, p, group.hardware, ar,
                                 xp=xp)
    return xp.where(group.is_ttft, ttft, e2e)


def fit_steps(groups: list[E2EGroup], op_params: dict[str, float],
              allreduce: dict[int, AllReduceFit], memory: MemorySettings) -> dict[str, float]:
    import jax.numpy as jnp

    init = {"attention_compute_eff": 0.5, "attention_memory_eff": 0.6, "step_overhead_ms": 2.0,
            "seq_overhead_us": 20.0}
    # Attention efficiencies are kept in physical ranges so they cannot absorb other effects.
    transforms = {"attention_compute_eff": _bounded(0.2, 0.9),
                  "attention_memory_eff": _bounded(0.2, 0.95),
                  "step_overhead_ms": _positive(), "seq_overhead_us": _positive()}
    fixed = {**op_params, "bandwidth_saturation_fraction": BANDWIDTH_SATURATION_FRACTION}
    chunk = float(memory.max_num_batched_tokens)
    count = sum(g.measured_ms.size for g in groups)

    def loss(p: dict) -> Any:
        params = {**fixed, **p}
        total = 0.0
        for group in groups:
            predicted = predict_group(group, params, allreduce, chunk, xp=jnp)
            total = total + jnp.sum((jnp.log(predicted) - np.log(group.measured_ms)) ** 2)
        return total / count

    return _fit(init, transforms, loss, steps=800, lr=0.05)


# ------------------------------------------------------------------------------ reports


def mape(predicted: np.ndarray, measured: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(predicted) / np.asarray(measured) - 1.0)) * 100)


@dataclass(frozen=True)
class ErrorRow:
    """Mean absolute percentage error of one slice of the calibration data."""

    what: str  # "layer", "operator", "all-reduce", "end-to-end"
    gpu: str
    tp: int
    split: str  # "train" or "test"
    models: str
    rows: int
    mape_pct: float


def ops_errors(gpu_key: str, params: RooflineParams) -> list[ErrorRow]:
    p = params.as_mapping()
    hw = Hardware.of(load_catalog().gpus[OPS_GPU[gpu_key]])
    data = load_ops(gpu_key)
    out = []
    for split, models in OPS_SPLIT[gpu_key].items():
        by_tp: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for model in models:
            for group in data[model]:
                predicted = predict_ops(group, p, hw)
                layer_ops = [op for op in VIDUR_OPS if op in group.times_ms]
                cell = by_tp[group.tp]
                cell["layer_pred"].append(sum(predicted[op] for op in layer_ops))
                cell["layer_meas"].append(sum(group.times_ms[op] for op in layer_ops))
                for op in group.times_ms:
                    cell["op_pred"].append(predicted[op])
                    cell["op_meas"].append(group.times_ms[op])
        for tp, cell in sorted(by_tp.items()):
            label = ", ".join(m.split("__")[1] for m in models)
            for what, key in (("layer", "layer"), ("operator", "op")):
                pred = np.concatenate(cell[f"{key}_pred"])
                meas = np.concatenate(cell[f"{key}_meas"])
                out.append(ErrorRow(what, OPS_GPU[gpu_key], tp, split, label, pred.size,
                                    mape(pred, meas)))
    return out


def allreduce_errors(topology: str, fits: dict[int, AllReduceFit]) -> list[ErrorRow]:
    out = []
    for data in load_allreduce(topology):
        fit = fits[data.num_gpus]
        for split, every in (("train", slice(0, None, 2)), ("test", slice(1, None, 2))):
            pred = allreduce_ms(data.size[every], fit)
            out.append(ErrorRow("all-reduce", topology, data.num_gpus, split, "NCCL sizes",
                                int(pred.size), mape(pred, data.time_ms[every])))
    return out


def e2e_errors(gpu: str, params: RooflineParams, catalog: Any, memory: MemorySettings
               ) -> list[ErrorRow]:
    p = params.as_mapping()
    allreduce = {a.num_gpus: a for a in params.allreduce}
    groups = e2e_groups([r for r in load_e2e() if r.gpu == gpu], catalog, memory)
    out = []
    for split, models in E2E_SPLIT[gpu].items():
        cells: dict[tuple[int, bool], list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
        for group in groups:
            if group.model not in models:
                continue
            predicted = predict_group(group, p, allreduce, float(memory.max_num_batched_tokens))
            for ttft in (False, True):
                mask = group.is_ttft == ttft
                if mask.any():
                    cells[(group.tp, ttft)].append((predicted[mask], group.measured_ms[mask]))
        label = ", ".join(m.split("/")[1] for m in models)
        for (tp, ttft), parts in sorted(cells.items()):
            pred = np.concatenate([a for a, _ in parts])
            meas = np.concatenate([b for _, b in parts])
            out.append(ErrorRow("TTFT" if ttft else "end-to-end", gpu, tp, split, label,
                                int(pred.size), mape(pred, meas)))
    return out


def format_report(errors: list[ErrorRow]) -> str:
    return "\n".join(table(
        ("quantity", "GPU / topology", "TP", "split", "llms", "rows", "MAPE"),
        [(e.what, e.gpu, e.tp, e.split, e.models, e.rows, f"{e.mape_pct:.1f}%") for e in errors],
        align="lllllrr"))


# ------------------------------------------------------------------------------ parameters


def _pcie_allreduce(gpu: GpuSpec) -> tuple[AllReduceFit, ...]:
    bandwidth = PCIE_ALLREDUCE_EFFICIENCY * gpu.pcie_gb_s
    return tuple(AllReduceFit(n, PCIE_ALLREDUCE_LATENCY_US * math.log2(n), bandwidth)
                 for n in (2, 4, 8))


def calibrate() -> tuple[dict[str, RooflineParams], list[ErrorRow]]:
    """Fit everything; return the parameters of every catalog GPU and the error report."""
    catalog = load_catalog()
    memory = MemorySettings()
    op_fits = {}
    for key in OPS_SPLIT:
        data = load_ops(key)
        train = [g for m in OPS_SPLIT[key]["train"] for g in data[m]]
        hw = Hardware.of(catalog.gpus[OPS_GPU[key]])
        log.info("fitting operators on %s (%d groups)", key, len(train))
        op_fits[key] = fit_ops(train, hw)
    ar_fits = {topo: {d.num_gpus: fit_allreduce(d) for d in load_allreduce(topo)}
               for topo in ALLREDUCE_TOPOLOGIES}
    step_fits = {}
    e2e_rows = load_e2e()
    for gpu, split in E2E_SPLIT.items():
        ops_key, topo, _ = INHERIT[gpu]
        train = e2e_groups([r for r in e2e_rows if r.gpu == gpu and r.model in split["train"]],
                           catalog, memory)
        log.info("fitting engine steps on %s (%d groups)", gpu, len(train))
        step_fits[gpu] = fit_steps(train, op_fits[ops_key], ar_fits[topo], memory)

    params = {}
    for gpu_id, (ops_key, topo, steps_from) in INHERIT.items():
        gpu = catalog.gpus[gpu_id]
        allreduce = tuple(ar_fits[topo].values()) if topo else _pcie_allreduce(gpu)
        source = (f"operators: {ops_key} ({OPS_GPU[ops_key]}); all-reduce: "
                  f"{topo or f'uncalibrated PCIe model ({topology_of(gpu)})'}; "
                  f"engine steps: vLLM end-to-end on {steps_from}")
        if gpu_id in BORROWED:
            source += f"; no measurements of this part: efficiencies of {OPS_GPU[ops_key]}"
        params[gpu_id] = RooflineParams(
            gpu=gpu_id, source=source, **op_fits[ops_key], **step_fits[steps_from],
            bandwidth_saturation_fraction=BANDWIDTH_SATURATION_FRACTION, allreduce=allreduce)
    return params, error_report(params)


def error_report(params: dict[str, RooflineParams]) -> list[ErrorRow]:
    catalog = load_catalog()
    memory = MemorySettings()
    errors: list[ErrorRow] = []
    for key, gpu in OPS_GPU.items():
        errors += ops_errors(key, params[gpu])
    for topo, gpu in ALLREDUCE_TOPOLOGIES.items():
        errors += allreduce_errors(topo, {a.num_gpus: a for a in params[gpu].allreduce})
    for gpu in E2E_SPLIT:
        errors += e2e_errors(gpu, params[gpu], catalog, memory)
    return errors


def write_params(params: dict[str, RooflineParams], path: Path) -> None:
    from scepsy_opt.core.artifacts import atomic_write_text

    document = {
        "schema": 1,
        "bandwidth_saturation_fraction_note": (
            "MPS share at which HBM bandwidth saturates: a modelling assumption, not fitted"),
        "gpus": {},
    }
    for gpu, p in sorted(params.items()):
        entry = {"source": p.source}
        entry.update({k: round(float(v), 6) for k, v in p.as_mapping().items()})
        entry["allreduce"] = [{"num_gpus": a.num_gpus, "latency_us": round(float(a.latency_us), 3),
                               "bus_gb_s": round(float(a.bus_gb_s), 3)} for a in p.allreduce]
        document["gpus"][gpu] = entry
    header = ("# Roofline efficiencies per GPU type, fitted by "
              "`python -m scepsy_opt.profile.calibrate`\n# from the measured data in this folder "
              "(SOURCE.md). Do not edit by hand: refit.\n")
    atomic_write_text(path, header + yaml.safe_dump(document, sort_keys=False, width=100))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only report the error of the shipped parameters")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = calibration_dir() / PARAMS_FILE
    if args.check:
        errors = error_report(load_roofline_params(path))
    else:
        params, errors = calibrate()
        write_params(params, path)
        log.info("wrote %s", path)
    sys.stdout.write(format_report(errors) + "\n")


if __name__ == "__main__":
    main()
