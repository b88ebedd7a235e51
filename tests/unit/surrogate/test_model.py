"""The per-llm models: known answers, recovery of synthetic ground truth, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.test_util import check_grads

from scepsy_opt.surrogate import model
from scepsy_opt.testing import synthetic_surrogate

GRID_TP = np.repeat([1.0, 2.0, 4.0, 8.0], 8)
GRID_F = np.tile(np.arange(1, 9) / 8, 4)


def test_translog_fit_recovers_known_weights():
    truth = np.array([np.log(7.0), 0.8 * np.log(2), 0.7 * np.log(2), -0.05, 0.03, 0.02])
    values = np.exp(np.asarray(model.features(jnp.asarray(GRID_TP), jnp.asarray(GRID_F)))
                    @ truth)
    w = model.fit_translog(GRID_TP, GRID_F, values, jax.random.PRNGKey(3), optax.adam(0.05),
                           steps=4000)
    np.testing.assert_allclose(np.asarray(w), truth, rtol=0.02, atol=2e-3)


def test_queue_fit_recovers_known_coefficients():
    rho = np.tile(np.array([0.1, 0.3, 0.5, 0.7, 0.85]), (3, 1))
    truth = np.array([[0.05, 0.4, 0.3], [0.2, 1.0, 0.1], [0.1, 0.2, 0.8]])
    delta = np.sum(truth[:, None, :] * np.asarray(model.queue_basis(jnp.asarray(rho))), axis=-1)
    fitted = model.fit_queue(rho, delta, jax.random.PRNGKey(0), optax.adam(0.05), steps=6000)
    np.testing.assert_allclose(fitted, truth, rtol=0.02, atol=1e-3)


def test_instance_model_is_exact_at_measured_points_and_smooth_between():
    rng = np.random.default_rng(1)
    keep = rng.random(GRID_TP.size) < 0.7  # some configurations were not measured
    tp, fraction = GRID_TP[keep], GRID_F[keep]
    capacity = 10 * tp ** 0.8 * fraction ** 0.7 * np.exp(rng.normal(0, 0.05, tp.size))
    unloaded = 1.5 * tp ** -0.4 * fraction ** -0.2
    rho = np.tile(np.array([0.1, 0.5, 0.85]), (tp.size, 1))
    delta = 0.1 + 0.5 * rho + 0.3 * rho ** 2 / (1 - rho)
    params = model.from_numpy(model.fit_instance(
        tp, fraction, capacity, unloaded, rho, delta, jax.random.PRNGKey(0), optax.adam(0.05),
        steps=1500))
    np.testing.assert_allclose(np.asarray(model.capacity(params, tp, fraction)), capacity,
                               rtol=1e-9)
    np.testing.assert_allclose(np.asarray(model.unloaded(params, tp, fraction)), unloaded,
                               rtol=1e-9)
    # between grid points the surface lies between its neighbours (bilinear residual)
    between = float(model.capacity(params, 2.0, 0.5625))
    low, high = sorted(float(model.capacity(params, 2.0, f)) for f in (0.5, 0.625))
    if keep[8 + 3] and keep[8 + 4]:
        assert low * 0.98 <= between <= high * 1.02


def test_bilinear_interpolation_is_exact_at_the_grid():
    table = np.arange(32, dtype=float).reshape(4, 8)
    values = np.asarray(model.bilinear(jnp.asarray(table), jnp.asarray(GRID_TP),
                                       jnp.asarray(GRID_F)))
    np.testing.assert_allclose(values, table.ravel())
    middle = float(model.bilinear(jnp.asarray(table), 2 ** 0.5, 1.5 / 8))
    assert middle == pytest.approx(np.mean([table[0, 0], table[0, 1], table[1, 0],
                                            table[1, 1]]))


@pytest.mark.parametrize("seed", [0, 1])
def test_surrogate_gradients_match_finite_differences(seed):
    rng = np.random.default_rng(seed)
    surrogate, _ = synthetic_surrogate(rng, ("llama-3.2-3b-instruct", "qwen2.5-7b-instruct",
                                             "llama-3.1-8b-instruct"), requests=60)
    latency = surrogate.latency_fn(0.3)
    # between grid points (the bilinear residual has kinks on the grid), light load
    tp = jnp.array([1.3, 2.7, 1.6])
    replicas = jnp.array([2.2, 3.4, 1.7])
    fraction = jnp.array([0.43, 0.81, 0.57])
    check_grads(latency, (tp, replicas, fraction), order=1, modes=("fwd", "rev"),
                atol=1e-5, rtol=1e-4)

    def throughput(tp, replicas, fraction):
        return surrogate.evaluate(surrogate._load(), tp, replicas, fraction, 0.3)[
            "throughput_rps"]

    check_grads(throughput, (tp, replicas, fraction), order=1, modes=("fwd", "rev"),
                atol=1e-5, rtol=1e-4)


def test_more_replicas_never_slow_the_surrogate_down():
    rng = np.random.default_rng(5)
    surrogate, _ = synthetic_surrogate(rng, ("llama-3.2-3b-instruct", "qwen2.5-7b-instruct"),
                                       requests=60)
    tp = np.ones((6, 2))
    fraction = np.ones((6, 2))
    replicas = np.stack([np.array([r, 2.0]) for r in range(1, 7)])
    out = surrogate.predict_batch(tp, replicas, fraction, 0.5)
    assert np.all(np.diff(out["latency_s"]) <= 1e-12)
    assert np.all(np.diff(out["throughput_rps"]) >= -1e-12)
    # the batch agrees with one-at-a-time predictions
    for b in range(6):
        single = surrogate.predict(tp[b], replicas[b], fraction[b], 0.5)
        assert float(single["latency_s"]) == pytest.approx(out["latency_s"][b], rel=1e-9)
