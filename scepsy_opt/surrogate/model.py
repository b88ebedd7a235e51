"""Per-llm fitted models (JAX, optax): capacity, unloaded latency and loaded call latency.

For one llm on one GPU type, with ``x = log2 tp`` and ``y = log2 fraction``:

**Instance model** (fitted to single-instance measurements, :mod:`scepsy_opt.surrogate.data`).
Five positive quantities of a configuration, each a *surface* over (TP, fraction):
``Q(tp, f) = exp(phi . w_Q + R_Q(tp, f))`` with ``phi = [1, x, y, x^2, y^2, x y]`` a smooth
translog fitted by least squares in log space (optax) and ``R_Q`` the residual at the measured
grid points (TP 1..8, fractions k/8), interpolated bilinearly in ``(x, 8 f)`` and zero where
nothing was measured: exact at every measured configuration, smooth and differentiable almost
everywhere between them (relaxed TP degrees and fractions). The quantities:

- ``mu``: capacity, calls/s of one instance at the llm's call mix;
- ``l0``: unloaded call latency, seconds;
- ``A, B, C``: the single-instance load curve ``delta_1(rho) = A + B rho + C rho^2 / (1 - rho)``,
  the mean extra call latency at utilisation ``rho`` in units of ``l0`` (fitted per
  configuration with optax: nonnegative coefficients, log-space error).

**Loaded call latency inside the workflow** (load parameters per llm, fitted to whole-workflow
simulations, :mod:`scepsy_opt.surrogate.calib`): a call whose unloaded latency at the reference
configuration is ``d`` takes on average

    L = sigma d + l0(tp, f) delta,   sigma = l0(tp, f) / l0(reference)
    delta = a A (1 + g G) + b B rho + c C r^-gamma rho^sqrt(2 (r + 1)) / (1 - u)

with ``rho = n lambda / (r mu)`` the utilisation of the llm's ``r`` replicas,
``G = log2(1 + p / r)`` the share of a fan-out (``p`` calls of one request that run together)
each replica receives and ``u = lambda / X`` the utilisation of the whole pipeline (``X`` its
throughput, below). The single-instance curve's terms are scaled by ``a, b, c`` (the
workflow's bursts), the queueing term thinned for several replicas (the exponent of the
Sakasegawa approximation of a multi-server queue; it is the single-instance ``rho^2`` at
``r = 1``). Its pole is the pipeline's, not the llm's own: when two stages are loaded alike,
the workflow saturates below either one's capacity (the soft minimum) and both queues grow
towards that point; a lightly loaded stage stays fast through its small numerator. The delay
is nondecreasing in every stage's utilisation.

``eta = 0.5 + 0.75 sigmoid(e . [1, log2 r, log2(mu l0)])`` is the fraction of the
single-instance capacity that the llm sustains inside the workflow (requests' own pacing limits
the concurrency the replicas see; a stage whose delays are small next to the request's latency
tolerates a slight overload), and the workflow's throughput the soft minimum of its stages'
(:func:`soft_min`, exponent fitted). ``nu = softplus(k)``, the delays' standard deviation over
their mean, sizes how much the longest of several parallel delayed branches exceeds their mean
(:mod:`scepsy_opt.surrogate.paths`).

Parameters are pytrees of arrays; :func:`fit_instance` and the workflow calibration are pure
functions of their data, an explicit PRNG key and an optax optimiser.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

# Latencies sum over thousands of calls and gradients are checked numerically: use float64.
jax.config.update("jax_enable_x64", True)

FEATURES = 6
TP_GRID = 4  # TP 1, 2, 4, 8
FRACTION_GRID = 8  # fractions k / 8
RHO_MAX = 0.98  # utilisation is clipped here: latency stays finite (and differentiable)
ETA_MAX = 1.25  # the workflow can sustain a little overload of a stage whose delay is small
ETA_MIN = 0.5  # and reaches at least half of a stage's single-instance capacity
ETA_START = (1.5, 0.0, 0.0)  # eta's starting weights (the replica weight is pulled to its start)
S_START = (0.0, -2.0, 0.0, 0.0)  # the delay scales' start: the single-instance curve unscaled


def features(tp: Any, fraction: Any) -> Any:
    x = jnp.log2(tp)
    y = jnp.log2(fraction)
    return jnp.stack([jnp.ones_like(x), x, y, x * x, y * y, x * y], axis=-1)


def grid_index(tp: Any, fraction: Any) -> tuple[Any, Any]:
    """Continuous grid coordinates of (tp, fraction): (log2 tp, 8 fraction - 1)."""
    return jnp.log2(tp), fraction * FRACTION_GRID - 1.0


def bilinear(table: Any, tp: Any, fraction: Any) -> Any:
    """``table[TP_GRID, FRACTION_GRID]`` interpolated at (tp, fraction), clamped to the grid."""
    i, j = grid_index(tp, fraction)
    i = jnp.clip(i, 0.0, TP_GRID - 1.0)
    j = jnp.clip(j, 0.0, FRACTION_GRID - 1.0)
    i0 = jnp.floor(jnp.minimum(i, TP_GRID - 1.0 - 1e-9))
    j0 = jnp.floor(jnp.minimum(j, FRACTION_GRID - 1.0 - 1e-9))
    wi, wj = i - i0, j - j0
    i0, j0 = i0.astype(int), j0.astype(int)
    return ((1 - wi) * (1 - wj) * table[i0, j0] + wi * (1 - wj) * table[i0 + 1, j0]
            + (1 - wi) * wj * table[i0, j0 + 1] + wi * wj * table[i0 + 1, j0 + 1])


# --------------------------------------------------------------------------- instance model


SURFACES = ("mu", "l0", "qa", "qb", "qc")
QUEUE_FLOOR = 1e-4  # load-curve coefficients below this are stored as this (log space)


def surface(params: dict, name: str, tp: Any, fraction: Any) -> Any:
    """The fitted surface ``name`` at (tp, fraction)."""
    return jnp.exp(features(tp, fraction) @ params[f"w_{name}"]
                   + bilinear(params[f"r_{name}"], tp, fraction))


def capacity(params: dict, tp: Any, fraction: Any) -> Any:
    return surface(params, "mu", tp, fraction)


def unloaded(params: dict, tp: Any, fraction: Any) -> Any:
    return surface(params, "l0", tp, fraction)


def queue_basis(rho: Any) -> Any:
    rho = jnp.clip(rho, 0.0, RHO_MAX)
    return jnp.stack([jnp.ones_like(rho), rho, rho ** 2 / (1.0 - rho)], axis=-1)


def minimise(loss: Any, params: Any, optimiser: optax.GradientTransformation, steps: int
             ) -> Any:
    """``steps`` optimiser steps on ``loss(params)`` in one compiled loop (pure)."""
    state = optimiser.init(params)

    def body(carry: tuple, _: Any) -> tuple:
        params, state = carry
        value, grad = jax.value_and_grad(loss)(params)
        updates, state = optimiser.update(grad, state, params)
        return (optax.apply_updates(params, updates), state), value

    (params, _), _ = jax.lax.scan(body, (params, state), None, length=steps)
    return params


def _translog_loss(w: Any, phi: Any, target: Any) -> Any:
    return jnp.mean((phi @ w - target) ** 2)


def fit_translog(tp: Any, fraction: Any, values: Any, key: jax.Array,
                 optimiser: optax.GradientTransformation, steps: int = 2000) -> jax.Array:
    """Least-squares translog weights of ``log values`` (pure; the key perturbs the start)."""
    phi = features(jnp.asarray(tp, dtype=float), jnp.asarray(fraction, dtype=float))
    target = jnp.log(jnp.asarray(values, dtype=float))
    w = 0.01 * jax.random.normal(key, (FEATURES,))
    w = w.at[0].add(jnp.mean(target))
    return minimise(lambda w: _translog_loss(w, phi, target), w, optimiser, steps)


def _queue_loss(theta: Any, basis: Any, delta: Any) -> Any:
    predicted = jnp.sum(jax.nn.softplus(theta)[:, None, :] * basis, axis=-1)
    return jnp.mean((jnp.log1p(predicted) - jnp.log1p(delta)) ** 2)


def fit_queue(rho: Any, delta: Any, key: jax.Array, optimiser: optax.GradientTransformation,
              steps: int = 2000) -> np.ndarray:
    """Per configuration, nonnegative ``(A, B, C)`` of ``A + B rho + C rho^2 / (1 - rho)``
    fitted to its load curve ``delta[C, K]`` at ``rho[C, K]`` (pure; log-space error)."""
    basis = queue_basis(jnp.asarray(rho, dtype=float))
    delta = jnp.asarray(delta, dtype=float)
    theta = jnp.full((delta.shape[0], 3), -2.0) + 0.01 * jax.random.normal(
        key, (delta.shape[0], 3))
    theta = minimise(lambda t: _queue_loss(t, basis, delta), theta, optimiser, steps)
    return np.asarray(jax.nn.softplus(theta))


def residual_table(w: Any, tp: np.ndarray, fraction: np.ndarray, values: np.ndarray
                   ) -> np.ndarray:
    """What the translog misses at each measured grid point (zero elsewhere)."""
    table = np.zeros((TP_GRID, FRACTION_GRID))
    base = np.asarray(features(jnp.asarray(tp, dtype=float),
                               jnp.asarray(fraction, dtype=float)) @ w)
    for t, f, v, b in zip(tp, fraction, values, base, strict=True):
        table[int(round(np.log2(t))), int(round(f * FRACTION_GRID)) - 1] = np.log(v) - b
    return table


def fit_instance(tp: np.ndarray, fraction: np.ndarray, capacity_rps: np.ndarray,
                 unloaded_s: np.ndarray, load_rho: np.ndarray, load_delta: np.ndarray,
                 key: jax.Array, optimiser: optax.GradientTransformation, steps: int = 2000
                 ) -> dict[str, np.ndarray]:
    """The instance model of one llm from its measured configurations (pure)."""
    keys = jax.random.split(key, len(SURFACES) + 1)
    queue = np.maximum(fit_queue(load_rho, load_delta, keys[-1], optimiser, steps),
                       QUEUE_FLOOR)
    values = {"mu": capacity_rps, "l0": unloaded_s, "qa": queue[:, 0], "qb": queue[:, 1],
              "qc": queue[:, 2]}
    params = {}
    for name, k in zip(SURFACES, keys, strict=False):
        w = fit_translog(tp, fraction, values[name], k, optimiser, steps)
        params[f"w_{name}"] = np.asarray(w)
        params[f"r_{name}"] = residual_table(w, tp, fraction, values[name])
    return params


# --------------------------------------------------------------------------- loaded latency


def init_load(key: jax.Array, num_llms: int) -> dict[str, jax.Array]:
    """Starting load parameters for ``num_llms`` llms (a little noise from ``key``): the
    single-instance load curve unscaled."""
    noise = 0.01 * jax.random.normal(key, (num_llms, 4))
    return {
        "s": noise + jnp.array(S_START),
        "g": jnp.zeros((num_llms,)),
        "k": jnp.full((num_llms,), 0.5),
        "e": jnp.tile(jnp.array(ETA_START), (num_llms, 1)),
        "p": jnp.asarray(1.0),
    }


def efficiency(load: dict, replicas: Any, capacity: Any, unloaded: Any) -> Any:
    """``eta``: the fraction of its replicas' single-instance capacity an llm sustains inside
    the workflow, from ``log2 r`` and ``log2(mu l0)`` (the calls one instance must hold at
    once to run at capacity, by Little's law at unloaded latency): requests in flight hold only
    a few calls each, so the more concurrency the replicas need, the less of their capacity the
    workflow reaches before its requests' latency runs away."""
    z = jnp.log2(jnp.maximum(replicas, 1.0))
    need = jnp.log2(jnp.maximum(capacity * unloaded, 1e-3))
    e = load["e"]
    return ETA_MIN + (ETA_MAX - ETA_MIN) * jax.nn.sigmoid(
        e[..., 0] + e[..., 1] * z + e[..., 2] * need)


def soft_min(exponent: Any, values: Any, mask: Any = None) -> Any:
    """The pipeline's throughput from its stages': ``(sum_l v_l^-p)^(-1/p)``, below the
    smallest when several stages are close to it (their queues interact); over the stages
    ``mask`` selects (all by default; at least one). ``exponent`` is the fitted load
    parameter ``p`` (``p = 2 + 4 softplus(exponent)``)."""
    p = 2.0 + jax.nn.softplus(exponent) * 4.0
    mask = jnp.ones(jnp.shape(values), dtype=bool) if mask is None else mask
    low = jnp.min(jnp.where(mask, values, jnp.inf))
    return low * jnp.sum(jnp.where(mask, (values / low) ** -p, 0.0)) ** (-1.0 / p)


def delay_parts(load: dict, queue: Any, replicas: Any, parallelism: Any, rho: Any
                ) -> tuple[Any, Any]:
    """``delta``'s two parts, in units of ``l0``, from the configuration's single-instance load
    curve ``queue = (A, B, C)`` (last axis) and the llm's own utilisation ``rho``: the part
    that does not diverge (bursts and the linear term) and the numerator of the pole, which
    :func:`extra_delay` divides by ``1 - u`` (``u`` the pipeline's utilisation). Each depends
    on the llm's own decision only."""
    r = jnp.maximum(replicas, 1.0)
    g = jnp.log2(1.0 + parallelism / r)
    rho = jnp.clip(rho, 0.0, RHO_MAX)
    s = load["s"]
    low = jnp.exp(s[..., 0]) * queue[..., 0] * (1.0 + jax.nn.softplus(s[..., 1]) * g)
    linear = jnp.exp(s[..., 2]) * queue[..., 1] * rho
    pole = (jnp.exp(s[..., 3]) * queue[..., 2] * r ** -jax.nn.softplus(load["g"])
            * rho ** jnp.sqrt(2.0 * (r + 1.0)))
    return low + linear, pole


def extra_delay(base: Any, pole: Any, pipeline: Any) -> Any:
    """``delta = base + pole / (1 - u)`` with ``u`` the pipeline's utilisation (clipped at
    ``RHO_MAX``): every stage's queue grows as the whole pipeline nears its throughput."""
    return base + pole / (1.0 - jnp.clip(pipeline, 0.0, RHO_MAX))


def spread(load: dict) -> Any:
    """``nu``: the standard deviation of an llm's per-call extra delay over its mean."""
    return jax.nn.softplus(load["k"])


def to_numpy(params: dict) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}


def from_numpy(arrays: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    return {k: jnp.asarray(v) for k, v in arrays.items()}
