"""The aggregate LLM pipeline surrogate: workflow throughput and latency of an allocation.

For an allocation ``a = {llm: (tp, replicas, fraction)}`` at request rate ``lambda``, with the
per-llm models of :mod:`scepsy_opt.surrogate.model`:

- **throughput** ``X(a) = softmin_l eta_l r_l mu_l(tp_l, f_l) / n_l``: the weakest stage
  bounds the pipeline (``n_l`` calls per request, ``mu_l`` one instance's capacity, ``eta_l``
  the share of it sustained inside the workflow; the soft minimum falls below the weakest
  stage when others are close to it). A mix of workflows is one pipeline per member (its
  llms' soft minimum) and saturates with its weakest member;
- **utilisation** ``rho_l = lambda / X_l`` against the stage's sustainable throughput
  ``X_l = eta_l r_l mu_l / n_l`` (what the utilisation cap of the search bounds);
- **per-llm call latency**: speed factor ``sigma_l = l0_l(tp, f) / l0_l(reference)`` on the
  reference durations, plus the extra delay ``l0_l delta_l`` per call, a function of the
  replicas' raw utilisation ``n_l lambda / (r_l mu_l)`` and of the pipeline's utilisation
  ``u = lambda / X(a)`` (its queueing pole; in a mix, of the most loaded member calling the
  llm);
- **latency**: the expected longest path of the sampled requests
  (:mod:`scepsy_opt.surrogate.paths`), every llm's call times scaled by ``sigma_l`` and delayed
  by ``e_l = l0_l delta_l``, and the joins of parallel branches by the spread of those delays:
  ``T = mean_r max_k (W . sigma + C . e + J . (nu e) + tau)``. Parallel branches therefore
  combine by an expected maximum, not a sum. A mix of workflows has one path
  set per member; the shared llms see the combined load, and the latency reported is the
  rate-weighted mean of the members'.

Everything is a pure JAX function of continuous ``(tp, replicas, fraction)``: jit-compiled,
differentiable, and ``vmap``-ed to score batches of allocations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from scepsy_opt.surrogate import model
from scepsy_opt.surrogate.paths import PathSet


@dataclass(frozen=True, eq=False)
class WorkflowSurrogate:
    """Static data and fitted parameters of one workflow's surrogate (numpy arrays)."""

    llms: tuple[str, ...]
    members: tuple[str, ...]
    member_weight: np.ndarray  # [M] rate fractions
    calls_per_request: np.ndarray  # [L] of the mix
    parallelism: np.ndarray  # [L]
    ref_tp: np.ndarray  # [L]
    mean_call_s: np.ndarray  # [L] mean reference duration of a call
    instance: dict[str, np.ndarray]  # stacked per llm: w_* [L, 6], r_* [L, 4, 8] per surface
    load: dict[str, np.ndarray]  # stacked per llm (model.init_load)
    paths: tuple[PathSet, ...]  # per member
    # seconds every call spends outside the engine (the cluster's serving overhead): added to
    # each call on the paths, not fitted (the fits see the engines alone)
    call_overhead_s: float = 0.0

    def __post_init__(self) -> None:
        # which llms each member calls ([M, L]): a mix's members queue independently
        object.__setattr__(self, "uses", np.array([
            (np.asarray(p.C_sum) > 0) | (np.asarray(p.C).reshape(-1, len(self.llms)) > 0).any(
                axis=0) for p in self.paths]).reshape(len(self.paths), len(self.llms)))
        object.__setattr__(self, "_predict", jax.jit(self.evaluate))
        object.__setattr__(self, "_batch", jax.jit(jax.vmap(
            self.evaluate, in_axes=(None, 0, 0, 0, None))))
        object.__setattr__(self, "_terms", jax.jit(jax.vmap(
            self.llm_terms, in_axes=(None, 0, 0, 0, None))))
        object.__setattr__(self, "_grad", jax.jit(jax.grad(
            lambda load, tp, r, f, rate: self.evaluate(load, tp, r, f, rate)["latency_s"],
            argnums=(1, 2, 3))))

    # ------------------------------------------------------------------ model

    def llm_terms(self, load: dict, tp: Any, replicas: Any, fraction: Any, rate: Any
                  ) -> dict[str, Any]:
        """Per-llm quantities of an allocation (arrays of length L): each depends on that
        llm's own decision only (the latency couples them through the paths and the
        pipeline's utilisation, :meth:`delays`)."""
        inst = {k: jnp.asarray(v) for k, v in self.instance.items()}
        mu = jax.vmap(model.capacity)(inst, tp, fraction)
        l0 = jax.vmap(model.unloaded)(inst, tp, fraction)
        l0_ref = jax.vmap(model.unloaded)(inst, jnp.asarray(self.ref_tp, dtype=float),
                                          jnp.ones(len(self.llms)))
        calls = jnp.asarray(self.calls_per_request)
        queue = jnp.stack([jax.vmap(lambda p, t, f, n=name: model.surface(p, n, t, f))(
            inst, tp, fraction) for name in ("qa", "qb", "qc")], axis=-1)
        capacity = replicas * model.efficiency(load, replicas, mu, l0) * mu / calls
        base, pole = model.delay_parts(load, queue, replicas, jnp.asarray(self.parallelism),
                                       calls * rate / (replicas * mu))
        return {"capacity_rps": capacity, "rho": rate / capacity, "speed": l0 / l0_ref,
                "delay_base_s": l0 * base, "delay_pole_s": l0 * pole,
                "spread": model.spread(load) * jnp.ones_like(l0)}

    def delays(self, terms: dict[str, Any], pipeline: Any) -> dict[str, Any]:
        """Per-llm extra delay and mean call latency at pipeline utilisation ``pipeline``."""
        extra = model.extra_delay(terms["delay_base_s"], terms["delay_pole_s"], pipeline)
        return {"path_delay_s": extra,
                "call_latency_s": terms["speed"] * jnp.asarray(self.mean_call_s) + extra
                + self.call_overhead_s}

    def evaluate(self, load: dict, tp: Any, replicas: Any, fraction: Any, rate: Any
                 ) -> dict[str, Any]:
        """Predictions for one allocation (arrays of length L in ``llms`` order), as a pure
        function of the load parameters (for fitting) and the relaxed decision."""
        terms = self.llm_terms(load, tp, replicas, fraction, rate)
        throughput, pipeline = self.pipelines(load, terms["capacity_rps"], rate)
        terms = {**terms, **self.delays(terms, pipeline)}
        member_latency = jnp.stack([self._paths_latency(
            p, terms["speed"], terms["path_delay_s"], terms["spread"], self.call_overhead_s)
            for p in self.paths])
        return {
            **terms,
            "throughput_rps": throughput,
            "pipeline_utilisation": pipeline,
            "latency_s": jnp.dot(jnp.asarray(self.member_weight), member_latency),
            "member_latency_s": member_latency,
        }

    def pipelines(self, load: dict, capacity: Any, rate: Any) -> tuple[Any, Any]:
        """The workflow's throughput and the utilisation of the pipeline each llm is a stage of.

        A member's requests pass through its own llms only, so each member is a pipeline:
        its throughput (in requests of the mix per second) is the soft minimum of its llms'
        capacities, and the mix saturates with its weakest member (a minimum: members that
        share no llm do not queue behind each other). An llm's pole is the utilisation of
        the most loaded member calling it. A single workflow is one pipeline of all its
        llms."""
        uses = jnp.asarray(self.uses)
        # one soft-minimum exponent for all members, or one per member (a mix calibrated
        # member by member keeps each member's own)
        p = jnp.broadcast_to(jnp.asarray(load["p"]), (uses.shape[0],))
        member = jnp.stack([model.soft_min(p[m], capacity, mask)
                            for m, mask in enumerate(uses)])
        throughput = jnp.min(member)
        # each llm's most loaded member (the whole mix for an llm no path records)
        slowest = jnp.min(jnp.where(uses, member[:, None], jnp.inf), axis=0)
        slowest = jnp.where(jnp.isfinite(slowest), slowest, throughput)
        return throughput, rate / slowest

    def separable(self) -> bool:
        """Whether no request has competing critical paths (the latency is then a sum of
        per-llm terms at a given pipeline utilisation)."""
        return all(p.W.shape[0] == 0 for p in self.paths)

    def tool_time_s(self) -> float:
        return float(sum(w * p.tau_sum / p.requests
                         for w, p in zip(self.member_weight, self.paths, strict=True)))

    @staticmethod
    def _paths_latency(paths: PathSet, speed: Any, delay: Any, spread: Any,
                       overhead: float = 0.0) -> Any:
        joins = spread * delay
        delay = delay + overhead  # every call on a path pays the serving overhead once
        total = (jnp.dot(jnp.asarray(paths.W_sum), speed)
                 + jnp.dot(jnp.asarray(paths.C_sum), delay)
                 + jnp.dot(jnp.asarray(paths.J_sum), joins) + paths.tau_sum)
        if paths.W.shape[0]:
            candidates = (jnp.asarray(paths.W) @ speed + jnp.asarray(paths.C) @ delay
                          + jnp.asarray(paths.J) @ joins + jnp.asarray(paths.tau))
            candidates = jnp.where(jnp.asarray(paths.valid), candidates, -jnp.inf)
            total = total + jnp.sum(jnp.max(candidates, axis=1))
        return total / paths.requests

    # ------------------------------------------------------------------ public

    def predict(self, tp: Any, replicas: Any, fraction: Any, rate: float) -> dict[str, Any]:
        """Predictions for one allocation (arrays of length L, in ``llms`` order)."""
        return self._predict(self._load(), jnp.asarray(tp, dtype=float),
                             jnp.asarray(replicas, dtype=float),
                             jnp.asarray(fraction, dtype=float), float(rate))

    def predict_batch(self, tp: Any, replicas: Any, fraction: Any, rate: float
                      ) -> dict[str, Any]:
        """Predictions for a batch of allocations (arrays ``[B, L]``)."""
        return _padded(self._batch, self._load(), tp, replicas, fraction, rate)

    def breakdown(self, tp: Any, replicas: Any, fraction: Any, rate: float
                  ) -> dict[str, np.ndarray]:
        """Where the predicted latency goes (numpy): per llm, the mean time its calls add to a
        request's critical path (``llm_s``, rate-weighted over the members) and the tools'
        share (``tool_s``); they sum to the latency."""
        out = self.predict(tp, replicas, fraction, rate)
        speed, delay = np.asarray(out["speed"]), np.asarray(out["path_delay_s"])
        joins = np.asarray(out["spread"]) * delay
        llm_s = np.zeros(len(self.llms))
        tool_s = 0.0
        for m, paths in enumerate(self.paths):
            parts = paths.W_sum * speed + paths.C_sum * delay + paths.J_sum * joins
            tools = paths.tau_sum
            if len(paths.W):
                each = paths.W * speed + paths.C * delay + paths.J * joins  # [R, K, L]
                totals = np.where(paths.valid, each.sum(axis=-1) + paths.tau, -np.inf)
                pick = np.argmax(totals, axis=1)
                rows = np.arange(len(pick))
                parts = parts + each[rows, pick].sum(axis=0)
                tools += float(paths.tau[rows, pick].sum())
            weight = self.member_weight[m] / paths.requests
            llm_s += weight * parts
            tool_s += weight * tools
        return {"llm_s": llm_s, "tool_s": tool_s}

    def terms_batch(self, tp: Any, replicas: Any, fraction: Any, rate: float
                    ) -> dict[str, Any]:
        """:meth:`llm_terms` for a batch of allocations (arrays ``[B, L]``)."""
        return _padded(self._terms, self._load(), tp, replicas, fraction, rate)

    def latency_grad(self, tp: Any, replicas: Any, fraction: Any, rate: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradient of the predicted latency with respect to the relaxed TP degrees, replicas
        and fractions (compiled once per surrogate; the rate is an argument)."""
        grads = self._grad(self._load(), *(jnp.asarray(x, dtype=float)
                                           for x in (tp, replicas, fraction)), float(rate))
        return tuple(np.asarray(g) for g in grads)

    def latency_fn(self, rate: float):
        """``f(tp, replicas, fraction) -> latency`` for gradients (``jax.grad``)."""
        load = self._load()
        return lambda tp, replicas, fraction: self.evaluate(load, tp, replicas, fraction,
                                                            rate)["latency_s"]

    def with_load(self, load: dict) -> WorkflowSurrogate:
        """The same surrogate with other load parameters."""
        from dataclasses import replace

        return replace(self, load=model.to_numpy(load))

    def _load(self) -> dict[str, jax.Array]:
        return {k: jnp.asarray(v) for k, v in self.load.items()}


BATCH_SHAPES = (32, 1024)  # a batch is padded to the first of these that holds it
CHUNK = 4096  # larger batches run in chunks of this size (the last one padded)


def _padded(function: Any, load: dict, tp: Any, replicas: Any, fraction: Any, rate: float
            ) -> dict[str, np.ndarray]:
    """``function`` on a batch padded to one of a few compiled shapes (``BATCH_SHAPES``, or
    chunks of ``CHUNK``): a compilation costs as much as scoring a few hundred thousand
    allocations, so shapes are few and coarse."""
    arrays = [np.atleast_2d(np.asarray(x, dtype=float)) for x in (tp, replicas, fraction)]
    size = len(arrays[0])
    width = next((shape for shape in BATCH_SHAPES if size <= shape), CHUNK)
    padded = -(-size // width) * width
    if padded != size:
        arrays = [np.concatenate([x, np.repeat(x[-1:], padded - size, axis=0)])
                  for x in arrays]
    parts = [function(load, *(jnp.asarray(x[i:i + width]) for x in arrays), float(rate))
             for i in range(0, padded, width)]
    return {name: np.concatenate([np.asarray(part[name]) for part in parts])[:size]
            for name in parts[0]}
