"""The settings machinery: each stage's frozen dataclass is its Hydra schema (core/settings)."""

import dataclasses
from typing import Literal

import pytest
from omegaconf import OmegaConf

from scepsy_opt.config import Settings
from scepsy_opt.core.errors import ConfigError
from scepsy_opt.core.settings import build, check, run_field, schema


def groups(cls=Settings):
    """Every settings dataclass reachable from ``cls``'s fields (the stages' and theirs)."""
    out = [cls]
    for f in dataclasses.fields(cls):
        value = getattr(cls(), f.name) if f.init else None
        if dataclasses.is_dataclass(value):
            out += groups(type(value))
    return out


@pytest.mark.parametrize("cls", groups(), ids=lambda c: c.__name__)
def test_the_schema_composes_to_the_dataclass_defaults(cls):
    # the schema's defaults are the dataclass's: one declaration
    composed = OmegaConf.to_container(OmegaConf.structured(schema(cls)), resolve=True)
    assert build(cls, composed, run={"seed": 0}) == cls()


@dataclasses.dataclass(frozen=True)
class Inner:
    size: int = 2
    pairs: tuple[tuple[str, int], ...] = ()

    def __post_init__(self):
        check(self.size > 0, "size", "must be > 0", self.size, "use a positive size")


@dataclasses.dataclass(frozen=True)
class Outer:
    mode: Literal["fast", "slow"] = "fast"
    sizes: tuple[int, ...] = (1, 2)
    inner: Inner = Inner()
    label: str | None = None
    seed: int = run_field("seed", 0)


def test_build_converts_lists_pairs_and_nested_groups():
    built = build(Outer, {"mode": "slow", "sizes": [3], "inner": {"pairs": {"a": 1, "b": 2}}},
                  run={"seed": 7})
    assert built == Outer("slow", (3,), Inner(2, (("a", 1), ("b", 2))), None, 7)


def test_the_schema_maps_choices_tuples_and_pairs_to_omegaconf_types():
    cfg = OmegaConf.structured(schema(Outer))
    assert "seed" not in cfg  # filled from the run, not a key of the group
    assert cfg.mode == "fast" and list(cfg.sizes) == [1, 2] and dict(cfg.inner.pairs) == {}
    cfg.inner.pairs = {"x": 3}
    with pytest.raises(Exception):  # noqa: B017 - OmegaConf's own type check
        cfg.sizes = ["not an int"]


@pytest.mark.parametrize("data, needle", [
    ({"mode": "medium"}, "outer.mode: unknown option (got 'medium'). Fix: use one of fast, slow"),
    ({"inner": {"size": 0}}, "outer.inner.size: must be > 0 (got 0). Fix: use a positive size"),
    ({"inner": {"colour": 1}}, "outer.inner.colour: unknown setting"),
    ({"sizes": 3}, "outer.sizes: must be a list"),
])
def test_errors_name_the_full_key(data, needle):
    with pytest.raises(ConfigError) as info:
        build(Outer, data, path="outer")
    assert needle in str(info.value)


def test_ordered_pairs_are_told_apart_from_tuples_of_string_tuples():
    from scepsy_opt.core.settings import _pairs

    assert _pairs(tuple[tuple[str, int], ...]) is int
    assert _pairs(tuple[tuple[str, ...], ...]) is None  # e.g. groups of llm ids
    assert _pairs(tuple[str, ...]) is None
