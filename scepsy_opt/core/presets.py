"""HiGHS option presets (``solvers/<preset>.opt``): one ``option = value`` a line, ``#``
comments. Read once when the configuration is converted, so the place stage does no I/O."""

from __future__ import annotations

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
    named = {}
    for key, kind in (("time_limit", float), ("mip_rel_gap", float), ("threads", int),
                      ("random_seed", int)):
        if key in values:
            value = values.pop(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError("must be a number >= 0", source=str(path), field=key,
                                  value=value, fix=f"set {key} = <number>")
            named[key] = kind(value)
    return SolverPreset(
        name=path.stem, time_limit_s=named.get("time_limit", 60.0),
        mip_rel_gap=named.get("mip_rel_gap", 0.01), threads=named.get("threads"),
        random_seed=named.get("random_seed", 0), options=tuple(sorted(values.items())))
