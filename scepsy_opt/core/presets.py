"""HiGHS option presets (``solvers/<preset>.opt``): one ``option = value`` a line, ``#``
comments. Read once when the configuration is converted, so the place stage does no I/O."""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from scepsy_opt.core.errors import ConfigError


@dataclass(frozen=True)
class SolverPreset:
    """A preset's options. ``time_limit_s``, ``mip_rel_gap``, ``threads`` and ``random_seed``
    are named; every other option passes to HiGHS unchanged (``options``)."""

    name: str
    time_limit_s: float = 60.0
    mip_rel_gap: float = 0.01
    threads: int | None = None
    random_seed: int = 0
    options: tuple[tuple[str, str | int | float | bool], ...] = ()


def _value(text: str) -> str | int | float | bool:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_preset(path: Path) -> SolverPreset:
    """Parse a HiGHS options file; a malformed line is a :class:`ConfigError` naming it."""
    values: dict[str, str | int | float | bool] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the solver preset ({exc.strerror})", source=str(path),
                          fix="check the path") from None
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if "=" not in text:
            raise ConfigError(f"line {number} is not 'option = value'", source=str(path),
                              value=line, fix="write one 'option = value' per line")
        key, value = (part.strip() for part in text.split("=", 1))
        if not key or not value:
            raise ConfigError(f"line {number} is not 'option = value'", source=str(path),
                              value=line, fix="write one 'option = value' per line")
        values[key] = _value(value)
    named = {key: _named(path, key, values.pop(key)) for key in NAMED if key in values}
    for key, value in sorted(values.items()):
        problem = highs_refuses(key, value)
        if problem:
            raise ConfigError(f"HiGHS refuses option {key!r}: {problem}", source=str(path),
                              field=key, value=value,
                              fix="use an option and value of HiGHS's options list "
                                  "(https://ergo-code.github.io/HiGHS/stable/options/"
                                  "definitions/), or remove the line")
    return SolverPreset(
        name=path.stem, time_limit_s=named.get("time_limit", 60.0),
        mip_rel_gap=named.get("mip_rel_gap", 0.01), threads=named.get("threads"),
        random_seed=named.get("random_seed", 0), options=tuple(sorted(values.items())))


# the named options: their type, their range (as a test and its words) and the fix's example
NAMED = {
    "time_limit": (float, lambda v: 0 < v < math.inf, "a number of seconds > 0", "60"),
    "mip_rel_gap": (float, lambda v: 0 <= v < 1, "a relative gap >= 0 and < 1", "0.01"),
    "threads": (int, lambda v: v >= 1, "a whole number of threads >= 1", "2"),
    "random_seed": (int, lambda v: 0 <= v <= 2**31 - 1, "a whole number >= 0", "0"),
}


def _named(path: Path, key: str, value: str | int | float | bool) -> int | float:
    kind, valid, words, example = NAMED[key]
    number = not isinstance(value, bool) and isinstance(value, int | float)
    if not number or (kind is int and not isinstance(value, int)) or not valid(value):
        raise ConfigError(f"must be {words}", source=str(path), field=key, value=value,
                          fix=f"set {key} = <{words}>, e.g. {key} = {example}")
    return kind(value)


def highs_refuses(key: str, value: str | int | float | bool) -> str:
    """Why HiGHS refuses ``key = value`` ("" when it takes it): asked of HiGHS itself (its
    banner, printed when a solver object is made, is kept off the console)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "the value is not a finite number"
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highs = highspy.Highs()
            highs.setOptionValue("output_flag", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    status, _ = highs.getOptionType(key)
    if status != highspy.HighsStatus.kOk:
        return "no such option"
    if highs.setOptionValue(key, value) != highspy.HighsStatus.kOk:
        return "the value is of the wrong type or out of the option's range"
    return ""
