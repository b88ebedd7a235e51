"""Distributions of token counts, tool latencies, fan-out widths and loop counts.

Written in YAML as a number (a constant) or a mapping with a ``dist`` key::

    512                                        # constant
    {dist: const, value: 512}
    {dist: uniform, low: 4, high: 8}           # integers: every value in [low, high] equally likely
    {dist: normal, mean: 300, std: 50}
    {dist: lognormal, mean: 800, cv: 0.6}      # or {dist: lognormal, median: 700, sigma: 0.5}
    {dist: gamma, mean: 2.0, cv: 1.5}
    {dist: exponential, mean: 0.2}
    {dist: poisson, mean: 6}
    {dist: geometric, mean: 3}                 # support 1, 2, 3, ...
    {dist: empirical, values: [1, 2, 4], probs: [0.5, 0.3, 0.2]}

Every kind accepts ``min`` and ``max``: samples are clipped to ``[min, max]``. Sampling is
vectorised (numpy ``Generator``); integer quantities are drawn as integers directly where the
distribution is discrete (uniform, poisson, geometric, empirical) and rounded otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from scepsy_opt.core.errors import WorkflowError

PROB_TOLERANCE = 1e-6
_PARAMS = {
    "const": ({"value"},),
    "uniform": ({"low", "high"},),
    "normal": ({"mean", "std"},),
    "lognormal": ({"mean", "cv"}, {"median", "sigma"}),
    "gamma": ({"mean", "cv"},),
    "exponential": ({"mean"},),
    "poisson": ({"mean"},),
    "geometric": ({"mean"},),
    "empirical": ({"values", "probs"},),
}
_BOUNDED = {"const", "uniform", "empirical"}


@dataclass(frozen=True)
class Distribution:
    """A univariate distribution with optional clipping bounds."""

    kind: str
    params: tuple[tuple[str, Any], ...]
    min: float | None = None
    max: float | None = None

    def param(self, name: str) -> Any:
        return dict(self.params)[name]

    def has(self, name: str) -> bool:
        return name in dict(self.params)

    @property
    def upper_bound(self) -> float:
        """Largest value a sample can take (``inf`` when unbounded)."""
        natural = math.inf
        if self.kind == "const":
            natural = float(self.param("value"))
        elif self.kind == "uniform":
            natural = float(self.param("high"))
        elif self.kind == "empirical":
            natural = float(max(self.param("values")))
        return natural if self.max is None else min(natural, self.max)

    @property
    def lower_bound(self) -> float:
        natural = -math.inf
        if self.kind == "const":
            natural = float(self.param("value"))
        elif self.kind == "uniform":
            natural = float(self.param("low"))
        elif self.kind == "empirical":
            natural = float(min(self.param("values")))
        elif self.kind in ("lognormal", "gamma", "exponential", "poisson"):
            natural = 0.0
        elif self.kind == "geometric":
            natural = 1.0
        return natural if self.min is None else max(natural, self.min)

    @property
    def mean(self) -> float:
        """Mean before clipping (used for documentation and sanity checks)."""
        p = dict(self.params)
        if self.kind == "const":
            return float(p["value"])
        if self.kind == "uniform":
            return (p["low"] + p["high"]) / 2
        if self.kind == "lognormal" and "median" in p:
            return p["median"] * math.exp(p["sigma"] ** 2 / 2)
        if self.kind == "empirical":
            return float(np.dot(p["values"], p["probs"]))
        return float(p["mean"])

    def sample(self, rng: np.random.Generator, size: int, *, integer: bool = False) -> np.ndarray:
        """Draw ``size`` samples (float64, or int64 when ``integer``; the values must fit)."""
        out = self.draw(rng, size, integer=integer)
        return out.astype(np.int64) if integer else out

    def draw(self, rng: np.random.Generator, size: int, *, integer: bool = False) -> np.ndarray:
        """Draw ``size`` samples as float64 (rounded to whole numbers when ``integer``), so a
        caller can check their range before converting them to integers."""
        p = dict(self.params)
        kind = self.kind
        if kind == "const":
            out = np.full(size, float(p["value"]))
        elif kind == "uniform":
            if integer:
                out = rng.integers(int(p["low"]), int(p["high"]) + 1, size).astype(np.float64)
            else:
                out = rng.uniform(p["low"], p["high"], size)
        elif kind == "normal":
            out = rng.normal(p["mean"], p["std"], size)
        elif kind == "lognormal":
            if "median" in p:
                mu, sigma = math.log(p["median"]), float(p["sigma"])
            else:
                sigma = math.sqrt(math.log1p(p["cv"] ** 2))
                mu = math.log(p["mean"]) - sigma**2 / 2
            out = rng.lognormal(mu, sigma, size)
        elif kind == "gamma":
            shape = 1.0 / p["cv"] ** 2
            out = rng.gamma(shape, p["mean"] / shape, size)
        elif kind == "exponential":
            out = rng.exponential(p["mean"], size)
        elif kind == "poisson":
            out = rng.poisson(p["mean"], size).astype(np.float64)
        elif kind == "geometric":
            out = rng.geometric(1.0 / p["mean"], size).astype(np.float64)
        elif kind == "empirical":
            values = np.asarray(p["values"], dtype=np.float64)
            out = values[rng.choice(values.shape[0], size=size, p=np.asarray(p["probs"]))]
        else:  # pragma: no cover - parse_distribution rejects unknown kinds
            raise ValueError(kind)
        if self.min is not None or self.max is not None:
            out = np.clip(out, self.min, self.max)
        return np.rint(out) if integer else out


def parse_distribution(raw: Any, *, source: str, field: str) -> Distribution:
    """Parse the YAML form of a distribution; errors name ``source`` and ``field``."""
    if isinstance(raw, bool):
        raise WorkflowError("a distribution must be a number or a mapping with 'dist'",
                            source=source, field=field, value=raw,
                            fix="write e.g. 512 or {dist: lognormal, mean: 512, cv: 0.5}")
    if isinstance(raw, int | float):
        _finite(raw, source, field)
        return Distribution("const", (("value", float(raw)),))
    if not isinstance(raw, dict):
        raise WorkflowError("a distribution must be a number or a mapping with 'dist'",
                            source=source, field=field, value=raw,
                            fix="write e.g. 512 or {dist: lognormal, mean: 512, cv: 0.5}")
    kind = raw.get("dist")
    if kind not in _PARAMS:
        raise WorkflowError("unknown distribution kind", source=source, field=f"{field}.dist",
                            value=kind, fix=f"use one of {', '.join(_PARAMS)}")
    keys = set(raw) - {"dist", "min", "max"}
    forms = _PARAMS[kind]
    if keys not in forms:
        expected = " or ".join("{" + ", ".join(sorted(form)) + "}" for form in forms)
        raise WorkflowError(f"'{kind}' takes the parameters {expected}", source=source,
                            field=field, value=raw, fix=f"give exactly {expected} (plus min/max)")
    params: dict[str, Any] = {}
    for key in sorted(keys):
        value = raw[key]
        if kind == "empirical":
            params[key] = _number_list(value, source, f"{field}.{key}")
        else:
            _number(value, source, f"{field}.{key}")
            params[key] = float(value)
    _check_params(kind, params, source, field)
    low = _optional_number(raw.get("min"), source, f"{field}.min")
    high = _optional_number(raw.get("max"), source, f"{field}.max")
    if low is not None and high is not None and low > high:
        raise WorkflowError("min is larger than max", source=source, field=field,
                            value={"min": low, "max": high}, fix="swap min and max")
    frozen = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(params.items()))
    return Distribution(kind, frozen, low, high)


def _check_params(kind: str, p: dict[str, Any], source: str, field: str) -> None:
    def bad(name: str, rule: str) -> WorkflowError:
        return WorkflowError(f"'{kind}' needs {name} {rule}", source=source,
                             field=f"{field}.{name}", value=p[name], fix=f"set {name} {rule}")

    if kind == "uniform" and p["low"] > p["high"]:
        raise bad("low", "<= high")
    if kind == "normal" and p["std"] < 0:
        raise bad("std", ">= 0")
    for name in ("cv", "sigma"):
        if name in p and p[name] <= 0:
            raise bad(name, "> 0")
    for name in ("mean", "median"):
        if name in p and kind in ("lognormal", "gamma", "exponential", "poisson") and p[name] <= 0:
            raise bad(name, "> 0")
    if kind == "geometric" and p["mean"] < 1:
        raise bad("mean", ">= 1 (the support starts at 1)")
    if kind == "empirical":
        values, probs = p["values"], p["probs"]
        if len(values) != len(probs) or not values:
            raise WorkflowError("values and probs must be non-empty lists of equal length",
                                source=source, field=field,
                                value={"values": values, "probs": probs},
                                fix="give one probability per value")
        if any(x < 0 for x in probs):
            raise bad("probs", "all >= 0")
        if abs(sum(probs) - 1.0) > PROB_TOLERANCE:
            raise WorkflowError(f"probabilities sum to {sum(probs):.6g}, not 1",
                                source=source, field=f"{field}.probs", value=probs,
                                fix="make the probabilities sum to 1")


def _finite(value: Any, source: str, field: str) -> None:
    if not math.isfinite(float(value)):
        raise WorkflowError("the value must be finite", source=source, field=field, value=value,
                            fix="write a finite number")


def _number(value: Any, source: str, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WorkflowError("expected a number", source=source, field=field, value=value,
                            fix="write a plain number")
    _finite(value, source, field)


def _optional_number(value: Any, source: str, field: str) -> float | None:
    if value is None:
        return None
    _number(value, source, field)
    return float(value)


def _number_list(value: Any, source: str, field: str) -> list[float]:
    if not isinstance(value, list | tuple):
        raise WorkflowError("expected a list of numbers", source=source, field=field,
                            value=value, fix="write e.g. [1, 2, 4]")
    for i, item in enumerate(value):
        _number(item, source, f"{field}[{i}]")
    return [float(x) for x in value]
