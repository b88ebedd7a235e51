"""The analytical roofline model of LLM inference, with efficiencies fitted per GPU type.

Every operator of a forward pass is timed as a roofline: a matrix multiplication (GEMM) of
``m x k`` by ``k x n`` takes

    t = overhead + (t_c^s + t_m^s)^(1/s),   t_c = 2 m k n / (peak_flops * f_c * e_c),
                                             t_m = 2 (k n + m k + m n) / (bw(f) * e_m)

(``s`` large approaches ``max(t_c, t_m)``: compute-bound for many tokens, weight-bandwidth-bound
for few). Element-wise operators (norms, rotary embedding, activation, residual add, embedding
lookup) move bytes at their own fitted efficiency. Attention reads the KV cache (bandwidth) and
does ``4 * tokens * context * heads * head_dim`` FLOPs. With tensor parallelism every layer ends
its attention and its MLP with an all-reduce of the activations: ``latency + 2 (n - 1) / n *
bytes / bus_bandwidth``, both fitted per group size on NCCL measurements. A step (one forward pass
of the engine) adds the embedding lookup, the final norm, the LM head on the sequences that
sample a token, and a fixed per-step overhead (scheduling, sampling, launches).

**GPU fractions** (MPS compute share ``f``): compute scales with ``f``; HBM bandwidth saturates
before all SMs are in use, ``bw(f) = bw * min(1, f / f_sat)`` with ``f_sat =
bandwidth_saturation_fraction`` (a modelling assumption: no public measurement of MPS shares was
available to fit it); the memory fraction bounds the KV cache (:mod:`scepsy_opt.core.memory`).

Functions take an array module ``xp`` (numpy, or jax.numpy for fitting) and a parameter mapping,
so one implementation serves prediction, profile grids and calibration.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from scepsy_opt.core.errors import CatalogError
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.types import GpuSpec, LlmSpec

PARAMS_FILE = "roofline_params.yaml"

MS = 1e3
# Efficiency parameters fitted per GPU type, in the order calibration stores them.
OP_PARAMS = (
    "gemm_compute_eff", "gemm_memory_eff", "gemm_overhead_us", "gemm_smoothness",
    "norm_eff", "rope_eff", "act_eff", "add_eff", "emb_eff", "elementwise_overhead_us",
)
STEP_PARAMS = ("attention_compute_eff", "attention_memory_eff", "step_overhead_ms",
               "seq_overhead_us")
VIDUR_OPS = ("input_layernorm", "attn_pre_proj", "attn_rope", "attn_post_proj",
             "post_attention_layernorm", "mlp_up_proj", "mlp_act", "mlp_down_proj", "add")


@dataclass(frozen=True)
class Arch:
    """The architecture numbers the model needs (from an llm spec or calibration data)."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    gated_mlp: bool = True
    dtype_bytes: int = 2
    parallel_attention: bool = False  # one layernorm per layer (GPT-J / phi style)

    @staticmethod
    def of(llm: LlmSpec) -> Arch:
        return Arch(layers=llm.num_layers, hidden=llm.hidden_size,
                    heads=llm.num_attention_heads, kv_heads=llm.num_kv_heads,
                    head_dim=llm.head_dim, intermediate=llm.intermediate_size,
                    vocab=llm.vocab_size, dtype_bytes=llm.dtype_bytes)

    def kv_heads_per_gpu(self, tp: int) -> int:
        return max(1, self.kv_heads // tp)


@dataclass(frozen=True)
class Hardware:
    """Peak numbers of one GPU type, and how its tensor-parallel groups talk."""

    gpu: str
    peak_flops: float
    hbm_bytes_s: float
    topology: str

    @staticmethod
    def of(gpu: GpuSpec) -> Hardware:
        return Hardware(gpu=gpu.id, peak_flops=gpu.bf16_dense_tflops * 1e12,
                        hbm_bytes_s=gpu.hbm_bandwidth_gb_s * 1e9, topology=topology_of(gpu))


def topology_of(gpu: GpuSpec) -> str:
    """``nvswitch`` (SXM boards), ``nvlink_pairs`` (PCIe cards with NVLink bridges) or ``pcie``."""
    if not gpu.has_nvlink:
        return "pcie"
    return "nvlink_pairs" if gpu.form_factor.lower().startswith("pcie") else "nvswitch"


@dataclass(frozen=True)
class AllReduceFit:
    """NCCL all-reduce of ``n`` GPUs: ``latency_us + 2 (n-1)/n * bytes / bus_gb_s``."""

    num_gpus: int
    latency_us: float
    bus_gb_s: float


@dataclass(frozen=True)
class RooflineParams:
    """The fitted efficiencies of one GPU type (see ``models/calibration/roofline_params.yaml``)."""

    gpu: str
    source: str
    gemm_compute_eff: float
    gemm_memory_eff: float
    gemm_overhead_us: float
    gemm_smoothness: float
    norm_eff: float
    rope_eff: float
    act_eff: float
    add_eff: float
    emb_eff: float
    elementwise_overhead_us: float
    attention_compute_eff: float
    attention_memory_eff: float
    step_overhead_ms: float
    seq_overhead_us: float
    bandwidth_saturation_fraction: float
    allreduce: tuple[AllReduceFit, ...] = field(default=())

    def as_mapping(self) -> dict[str, Any]:
        values = {k: v for k, v in asdict(self).items() if k not in ("gpu", "source", "allreduce")}
        return values

    def allreduce_fit(self, num_gpus: int) -> AllReduceFit:
        for fit in self.allreduce:
            if fit.num_gpus == num_gpus:
                return fit
        # An unmeasured group size: the nearest measured one's bandwidth, its latency scaled.
        if not self.allreduce:
            raise KeyError(f"{self.gpu} has no all-reduce calibration")
        nearest = min(self.allreduce, key=lambda a: abs(np.log2(a.num_gpus / num_gpus)))
        return AllReduceFit(num_gpus, nearest.latency_us * num_gpus / nearest.num_gpus,
                            nearest.bus_gb_s)


def calibration_dir() -> Path:
    """``models/calibration``: measured calibration data and the fitted parameters."""
    return data_dir("models") / "calibration"


@functools.lru_cache(maxsize=4)
def load_roofline_params(path: Path | None = None) -> dict[str, RooflineParams]:
    """The fitted parameters of every GPU type (``models/calibration/roofline_params.yaml``)."""
    path = path or calibration_dir() / PARAMS_FILE
    try:
        with path.open() as handle:
            raw = yaml.safe_load(handle)
    except OSError as exc:
        raise CatalogError(f"cannot read the roofline parameters ({exc.strerror})",
                           source=str(path),
                           fix="run python -m scepsy_opt.profile.calibrate") from None
    out = {}
    for gpu, entry in raw["gpus"].items():
        entry = dict(entry)
        allreduce = tuple(AllReduceFit(**a) for a in entry.pop("allreduce", []))
        out[gpu] = RooflineParams(gpu=gpu, allreduce=allreduce, **entry)
    return out


def of_gpu(params: dict[str, Any], gpu: str, what: str, add: str) -> Any:
    """``params[gpu]`` of a per-GPU-type calibration; an uncalibrated type is a
    :class:`CatalogError` naming ``what`` is missing and, in ``add``, how to add the type."""
    if gpu not in params:
        raise CatalogError(f"no {what} for this GPU type", source=what.split()[0],
                           field="gpu", value=gpu,
                           fix=f"calibrated: {', '.join(sorted(params))}; {add}")
    return params[gpu]


def roofline_params(gpu: str) -> RooflineParams:
    """The fitted parameters of one GPU type; an uncalibrated type is a :class:`CatalogError`."""
    return of_gpu(load_roofline_params(), gpu, "roofline calibration",
                  "add the GPU to INHERIT in scepsy_opt/profile/calibrate.py and refit")


# ------------------------------------------------------------------------------ operators


def _roofline_ms(compute_s: Any, memory_s: Any, smoothness: Any, xp: Any) -> Any:
    """Smooth maximum of the compute and memory times, in ms (p-norm with exponent s)."""
    high = xp.maximum(compute_s, memory_s)
    ratio_c = compute_s / high
    ratio_m = memory_s / high
    return high * (ratio_c**smoothness + ratio_m**smoothness) ** (1.0 / smoothness) * MS


def gemm_ms(m: Any, k: Any, n: Any, p: dict, hw: Hardware, *, xp: Any = np,
            compute_share: Any = 1.0, bandwidth_share: Any = 1.0, dtype_bytes: int = 2) -> Any:
    flops = 2.0 * m * k * n
    moved = dtype_bytes * (k * n + m * k + m * n)
    compute = flops / (hw.peak_flops * compute_share * p["gemm_compute_eff"])
    memory = moved / (hw.hbm_bytes_s * bandwidth_share * p["gemm_memory_eff"])
    return p["gemm_overhead_us"] * 1e-3 + _roofline_ms(compute, memory, p["gemm_smoothness"], xp)


def elementwise_ms(moved_bytes: Any, efficiency: Any, p: dict, hw: Hardware, *,
                   bandwidth_share: Any = 1.0) -> Any:
    return p["elementwise_overhead_us"] * 1e-3 + moved_bytes / (
        hw.hbm_bytes_s * bandwidth_share * efficiency) * MS


def layer_ops_ms(arch: Arch, tp: int, tokens: Any, p: dict, hw: Hardware, *, xp: Any = np,
                 compute_share: Any = 1.0, bandwidth_share: Any = 1.0) -> dict[str, Any]:
    """Time (ms) of every operator of one layer except attention and all-reduce, for ``tokens``
    tokens in the step. Keys follow the per-operator calibration data."""
    h, d, b = arch.hidden, arch.head_dim, arch.dtype_bytes
    q_heads = arch.heads / tp
    kv_heads = arch.kv_heads_per_gpu(tp)
    inter = arch.intermediate / tp
    shares = {"compute_share": compute_share, "bandwidth_share": bandwidth_share, "xp": xp,
              "dtype_bytes": b}
    ew = {"bandwidth_share": bandwidth_share}
    up_width = 2 * inter if arch.gated_mlp else inter
    act_bytes = tokens * b * (up_width + inter)
    ops = {
        "input_layernorm": elementwise_ms(tokens * h * b * 2, p["norm_eff"], p, hw, **ew),
        "attn_pre_proj": gemm_ms(tokens, h, (q_heads + 2 * kv_heads) * d, p, hw, **shares),
        "attn_rope": elementwise_ms(tokens * (q_heads + kv_heads) * d * b * 2, p["rope_eff"],
                                    p, hw, **ew),
        "attn_post_proj": gemm_ms(tokens, q_heads * d, h, p, hw, **shares),
        "mlp_up_proj": gemm_ms(tokens, h, up_width, p, hw, **shares),
        "mlp_act": elementwise_ms(act_bytes, p["act_eff"], p, hw, **ew),
        "mlp_down_proj": gemm_ms(tokens, inter, h, p, hw, **shares),
        "add": elementwise_ms(tokens * h * b * 3, p["add_eff"], p, hw, **ew),
    }
    if not arch.parallel_attention:
        ops["post_attention_layernorm"] = elementwise_ms(tokens * h * b * 2, p["norm_eff"], p,
                                                         hw, **ew)
    return ops


def embedding_ms(arch: Arch, tokens: Any, p: dict, hw: Hardware, *,
                 bandwidth_share: Any = 1.0) -> Any:
    return elementwise_ms(tokens * arch.hidden * arch.dtype_bytes * 2, p["emb_eff"], p, hw,
                          bandwidth_share=bandwidth_share)


def attention_ms(arch: Arch, tp: int, flops: Any, kv_bytes: Any, p: dict, hw: Hardware, *,
                 xp: Any = np, compute_share: Any = 1.0, bandwidth_share: Any = 1.0) -> Any:
    """One layer's attention kernel for the given FLOPs and KV-cache bytes (per GPU)."""
    compute = flops / (hw.peak_flops * compute_share * p["attention_compute_eff"])
    memory = kv_bytes / (hw.hbm_bytes_s * bandwidth_share * p["attention_memory_eff"])
    return p["elementwise_overhead_us"] * 1e-3 + _roofline_ms(compute, memory,
                                                              p["gemm_smoothness"], xp)


def allreduce_ms(size_bytes: Any, fit: AllReduceFit) -> Any:
    n = fit.num_gpus
    return fit.latency_us * 1e-3 + 2 * (n - 1) / n * size_bytes / (fit.bus_gb_s * 1e9) * MS


# ------------------------------------------------------------------------------ engine steps


def shares(gpu_fraction: Any, params: dict, xp: Any = np) -> tuple[Any, Any]:
    """(compute share, bandwidth share) of an MPS fraction: compute scales linearly, bandwidth
    saturates at ``bandwidth_saturation_fraction`` of the SMs."""
    saturation = params["bandwidth_saturation_fraction"]
    return gpu_fraction, xp.minimum(1.0, gpu_fraction / saturation)


def forward_ms(arch: Arch, tp: int, tokens: Any, sampled: Any, attn_flops: Any, attn_bytes: Any,
               p: dict, hw: Hardware, allreduce: AllReduceFit | None, *, xp: Any = np,
               gpu_fraction: Any = 1.0, compute_scale: Any = 1.0,
               bandwidth_scale: Any = 1.0) -> Any:
    """One engine step: a forward pass over ``tokens`` tokens in which ``sampled`` sequences
    sample a token; ``attn_flops``/``attn_bytes`` are one layer's attention work per GPU.
    ``compute_scale``/``bandwidth_scale`` multiply the fraction's shares (the contention model
    splits a step by making either unlimited: :func:`scepsy_opt.core.contention.step_parts`)."""
    compute_share, bandwidth_share = shares(gpu_fraction, p, xp)
    compute_share = compute_share * compute_scale
    bandwidth_share = bandwidth_share * bandwidth_scale
    kw = {"xp": xp, "compute_share": compute_share, "bandwidth_share": bandwidth_share}
    ops = layer_ops_ms(arch, tp, tokens, p, hw, **kw)
    layer = sum(ops.values()) + attention_ms(arch, tp, attn_flops, attn_bytes, p, hw, **kw)
    if tp > 1:
        if allreduce is None:
            raise ValueError(f"{hw.gpu}: TP {tp} needs an all-reduce calibration")
        layer = layer + 2 * allreduce_ms(tokens * arch.hidden * arch.dtype_bytes, allreduce)
    head = gemm_ms(sampled, arch.hidden, arch.vocab / tp, p, hw, dtype_bytes=arch.dtype_bytes,
                   **kw)
    final_norm = elementwise_ms(tokens * arch.hidden * arch.dtype_bytes * 2, p["norm_eff"], p,
                                hw, bandwidth_share=bandwidth_share)
    emb = embedding_ms(arch, tokens, p, hw, bandwidth_share=bandwidth_share)
    overhead = p["step_overhead_ms"] + p["seq_overhead_us"] * 1e-3 * sampled
    return arch.layers * layer + head + final_norm + emb + overhead


def prefill_attention(arch: Arch, tp: int, batch: Any, prompt: Any) -> tuple[Any, Any]:
    """One layer's causal attention FLOPs and KV bytes (per GPU) for a prefill."""
    heads = arch.heads / tp
    flops = 2.0 * batch * prompt * (prompt + 1) * heads * arch.head_dim
    kv_bytes = batch * prompt * 2 * arch.kv_heads_per_gpu(tp) * arch.head_dim * arch.dtype_bytes
    return flops, kv_bytes


def decode_attention(arch: Arch, tp: int, batch: Any, context: Any) -> tuple[Any, Any]:
    heads = arch.heads / tp
    flops = 4.0 * batch * context * heads * arch.head_dim
    kv_bytes = batch * context * 2 * arch.kv_heads_per_gpu(tp) * arch.head_dim * arch.dtype_bytes
    return flops, kv_bytes


# Gauss-Legendre nodes and weights on [0, 1]: decode steps are summed by quadrature over the
# growing context (the step time is smooth in it), exact for the linear parts.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)
GL_NODES = (_GL_NODES + 1) / 2
GL_WEIGHTS = _GL_WEIGHTS / 2


def prefill_total_ms(arch: Arch, tp: int, batch: Any, prompt: Any, max_batched_tokens: float,
                     p: dict, hw: Hardware, allreduce: AllReduceFit | None, *, xp: Any = np,
                     gpu_fraction: Any = 1.0, **scales: Any) -> Any:
    """Prefill of ``batch`` sequences of ``prompt`` tokens in engine steps of at most
    ``max_batched_tokens`` tokens (chunked prefill): full chunks plus a remainder; attention
    work and sampling are spread over the steps."""
    total = batch * prompt
    full = xp.floor(total / max_batched_tokens)
    rest = total - full * max_batched_tokens
    has_rest = (rest > 0) * 1.0
    steps = xp.maximum(full + has_rest, 1.0)
    flops, kv_bytes = prefill_attention(arch, tp, batch, prompt)
    kw = {"xp": xp, "gpu_fraction": gpu_fraction, **scales}
    full_ms = forward_ms(arch, tp, max_batched_tokens + 0 * total, batch / steps, flops / steps,
                         kv_bytes / steps, p, hw, allreduce, **kw)
    rest_ms = forward_ms(arch, tp, xp.maximum(rest, 1.0), batch / steps, flops / steps,
                         kv_bytes / steps, p, hw, allreduce, **kw)
    return full * full_ms + has_rest * rest_ms


def decode_step_total_ms(arch: Arch, tp: int, batch: Any, context: Any, p: dict, hw: Hardware,
                         allreduce: AllReduceFit | None, *, xp: Any = np,
                         gpu_fraction: Any = 1.0, **scales: Any) -> Any:
    flops, kv_bytes = decode_attention(arch, tp, batch, context)
    return forward_ms(arch, tp, batch, batch, flops, kv_bytes, p, hw, allreduce, xp=xp,
                      gpu_fraction=gpu_fraction, **scales)


def decode_total_ms(arch: Arch, tp: int, batch: Any, prompt: Any, output: Any, p: dict,
                    hw: Hardware, allreduce: AllReduceFit | None, *, xp: Any = np,
                    gpu_fraction: Any = 1.0) -> tuple[Any, Any]:
    """(total, mean step) of the ``output - 1`` decode steps after the prefill, whose contexts
    run from ``prompt + 1`` to ``prompt + output - 1``."""
    steps = xp.maximum(output - 1, 0.0)
    mean = 0.0
    for node, weight in zip(GL_NODES, GL_WEIGHTS, strict=True):
        context = prompt + 1 + node * xp.maximum(steps - 1, 0.0)
        mean = mean + weight * decode_step_total_ms(arch, tp, batch, context, p, hw, allreduce,
                                                    xp=xp, gpu_fraction=gpu_fraction)
    return steps * mean, mean


def batch_latency(arch: Arch, tp: int, batch: Any, prompt: Any, output: Any, concurrency: Any,
                  max_batched_tokens: float, p: dict, hw: Hardware,
                  allreduce: AllReduceFit | None, *, xp: Any = np, gpu_fraction: Any = 1.0
                  ) -> tuple[Any, Any, Any]:
    """(TTFT, TPOT, end-to-end) of ``batch`` identical requests submitted together, at most
    ``concurrency`` at a time: full waves of ``concurrency`` and a last partial wave. TTFT and
    TPOT are those of the first wave; end-to-end covers the whole batch."""
    full_waves = xp.floor(batch / concurrency)
    last = batch - full_waves * concurrency
    kw = {"xp": xp, "gpu_fraction": gpu_fraction}

    def wave(size: Any) -> tuple[Any, Any, Any]:
        ttft = prefill_total_ms(arch, tp, size, prompt, max_batched_tokens, p, hw, allreduce,
                                **kw)
        decode, tpot = decode_total_ms(arch, tp, size, prompt, output, p, hw, allreduce, **kw)
        return ttft, tpot, ttft + decode

    ttft, tpot, full_ms = wave(concurrency)
    _, _, last_ms = wave(xp.maximum(last, 1.0))
    return ttft, tpot, full_waves * full_ms + (last > 0) * last_ms


@dataclass(frozen=True)
class RooflineModel:
    """One llm on one GPU type: prefill, decode-step and batch-latency predictions (ms).

    Inputs broadcast as numpy arrays.
    """

    arch: Arch
    hardware: Hardware
    params: RooflineParams
    max_num_batched_tokens: int = 8192

    def _common(self, tp: int) -> tuple[dict, AllReduceFit | None]:
        return self.params.as_mapping(), (self.params.allreduce_fit(tp) if tp > 1 else None)

    def prefill_ms(self, tp: int, batch: Any, prompt: Any, gpu_fraction: Any = 1.0,
                   **scales: Any) -> Any:
        p, ar = self._common(tp)
        return prefill_total_ms(self.arch, tp, np.asarray(batch, dtype=np.float64),
                                np.asarray(prompt, dtype=np.float64),
                                float(self.max_num_batched_tokens), p, self.hardware, ar,
                                gpu_fraction=gpu_fraction, **scales)

    def decode_step_ms(self, tp: int, batch: Any, context: Any, gpu_fraction: Any = 1.0,
                       **scales: Any) -> Any:
        p, ar = self._common(tp)
        return decode_step_total_ms(self.arch, tp, np.asarray(batch, dtype=np.float64),
                                    np.asarray(context, dtype=np.float64), p, self.hardware, ar,
                                    gpu_fraction=gpu_fraction, **scales)

    def bandwidth_ceiling(self, gpu_fraction: float) -> float:
        """The isolated bandwidth share of a fraction (what the contention model starts from)."""
        return float(shares(gpu_fraction, self.params.as_mapping())[1])

    def batch_latency_ms(self, tp: int, batch: Any, prompt: Any, output: Any, *,
                         concurrency: Any, gpu_fraction: Any = 1.0) -> tuple[Any, Any, Any]:
        p, ar = self._common(tp)
        f64 = lambda x: np.asarray(x, dtype=np.float64)  # noqa: E731
        return batch_latency(self.arch, tp, f64(batch), f64(prompt), f64(output),
                             f64(concurrency), float(self.max_num_batched_tokens), p,
                             self.hardware, ar, gpu_fraction=gpu_fraction)
