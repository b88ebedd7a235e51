import math

import numpy as np
import pytest

from scepsy_opt.core.errors import WorkflowError
from scepsy_opt.workflow.distributions import parse_distribution


def parse(raw):
    return parse_distribution(raw, source="w.yaml", field="f")


@pytest.mark.parametrize(
    "raw, mean, std",
    [
        (512, 512, 0),
        ({"dist": "const", "value": 3}, 3, 0),
        ({"dist": "normal", "mean": 100, "std": 10}, 100, 10),
        ({"dist": "lognormal", "mean": 800, "cv": 0.5}, 800, 400),
        ({"dist": "lognormal", "median": 100, "sigma": 0.5},
         100 * math.exp(0.125), 100 * math.exp(0.125) * math.sqrt(math.exp(0.25) - 1)),
        ({"dist": "gamma", "mean": 2.0, "cv": 1.5}, 2.0, 3.0),
        ({"dist": "exponential", "mean": 0.2}, 0.2, 0.2),
        ({"dist": "poisson", "mean": 6}, 6, math.sqrt(6)),
        ({"dist": "geometric", "mean": 3}, 3, math.sqrt(6)),
        ({"dist": "empirical", "values": [1, 2, 4], "probs": [0.5, 0.3, 0.2]},
         1.9, math.sqrt(0.5 * 0.81 + 0.3 * 0.01 + 0.2 * 4.41)),
    ],
)
def test_sample_moments_match_the_parameters(raw, mean, std):
    dist = parse(raw)
    x = dist.sample(np.random.default_rng(1), 400_000)
    assert dist.mean == pytest.approx(mean)
    tolerance = 6 * std / math.sqrt(x.size) + 1e-12
    assert x.mean() == pytest.approx(mean, abs=tolerance)
    assert x.std() == pytest.approx(std, rel=0.03, abs=1e-12)


def test_integer_uniform_is_inclusive_and_flat():
    x = parse({"dist": "uniform", "low": 4, "high": 8}).sample(
        np.random.default_rng(0), 100_000, integer=True)
    values, counts = np.unique(x, return_counts=True)
    assert values.tolist() == [4, 5, 6, 7, 8]
    assert counts.min() > 0.19 * x.size


def test_clipping_bounds_samples():
    dist = parse({"dist": "lognormal", "mean": 100, "cv": 2.0, "min": 10, "max": 200})
    x = dist.sample(np.random.default_rng(0), 50_000)
    assert x.min() == 10 and x.max() == 200
    assert dist.upper_bound == 200 and dist.lower_bound == 10


def test_bounds_of_unbounded_and_bounded_kinds():
    assert math.isinf(parse({"dist": "poisson", "mean": 3}).upper_bound)
    assert parse({"dist": "uniform", "low": 1, "high": 9}).upper_bound == 9
    assert parse({"dist": "empirical", "values": [2, 7], "probs": [0.5, 0.5]}).upper_bound == 7


def test_same_seed_same_samples():
    dist = parse({"dist": "gamma", "mean": 3, "cv": 0.7})
    a = dist.sample(np.random.default_rng(42), 100)
    b = dist.sample(np.random.default_rng(42), 100)
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    "raw, needle",
    [
        ({"dist": "zipf", "a": 2}, "unknown distribution kind"),
        ({"dist": "lognormal", "mean": 5}, "takes the parameters"),
        ({"dist": "normal", "mean": 5, "std": -1}, "std >= 0"),
        ({"dist": "uniform", "low": 5, "high": 1}, "low <= high"),
        ({"dist": "empirical", "values": [1, 2], "probs": [0.5, 0.4]}, "sum to 0.9"),
        ({"dist": "empirical", "values": [1, 2], "probs": [1.0]}, "equal length"),
        ({"dist": "const", "value": "many"}, "expected a number"),
        ({"dist": "exponential", "mean": 1, "min": 3, "max": 2}, "min is larger than max"),
        (True, "a number or a mapping"),
        ("lots", "a number or a mapping"),
    ],
)
def test_bad_distributions_are_rejected_with_the_field(raw, needle):
    with pytest.raises(WorkflowError) as info:
        parse(raw)
    message = str(info.value)
    assert needle in message
    assert message.startswith("w.yaml: f")
    assert "Fix:" in message
