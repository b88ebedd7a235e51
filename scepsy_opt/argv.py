"""The command line before Hydra sees it: what a user may type that Hydra alone would refuse
with a traceback, made to work or refused with a clear error.

- ``workflow=NAME`` (what shell completion offers) selects the workflow like ``+workflow=NAME``;
- ``from_run=DIR`` must name the directory of an earlier run (Hydra would otherwise create the
  re-run's folder inside it first), and the run's own ``hydra.searchpath`` carries over, so a
  run of a workflow kept outside the repository can be re-run without repeating it;
- the YAML files the run composes (the selected option of every config group, in every folder
  of the search path, and the files their defaults lists pull in) are parsed first, so
  malformed YAML is named with its file, line and column; unrelated files in those folders are
  not read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from scepsy_opt.core.catalog import load_yaml
from scepsy_opt.core.errors import ConfigError, ScepsyError
from scepsy_opt.core.resources import data_dir

CONF_DIR = data_dir("conf")
SEARCHPATH = "hydra.searchpath"


def prepare(argv: Sequence[str]) -> list[str]:
    """``argv`` as Hydra should see it (see the module docstring), or a :class:`ConfigError`."""
    args = [f"+{a}" if a.startswith("workflow=") else a for a in argv]
    run = _value(args, "from_run")
    if run is not None:
        args += _carried_searchpath(args, Path(run).expanduser())
    check_config_syntax(args)
    return args


def _key(arg: str) -> str:
    return arg.lstrip("+~").split("=", 1)[0]


def _value(args: Sequence[str], key: str) -> str | None:
    values = [a.split("=", 1)[1] for a in args if "=" in a and _key(a) == key]
    return values[-1] if values else None


def _carried_searchpath(args: Sequence[str], run: Path) -> list[str]:
    """The earlier run's ``hydra.searchpath`` override unless the command line gives one."""
    if not run.is_dir():
        raise ConfigError("no such run directory", source="command line", field="from_run",
                          value=str(run),
                          fix="point from_run at the output directory of an earlier run")
    if _value(args, SEARCHPATH) is not None:
        return []
    saved = run / ".hydra" / "hydra.yaml"
    hydra = (load_yaml(saved) or {}).get("hydra", {}) if saved.is_file() else {}
    earlier = (hydra.get("overrides") or {}).get("hydra") or []
    return [str(o) for o in earlier if _key(str(o)) == SEARCHPATH][-1:]


def search_dirs(argv: Sequence[str]) -> list[Path]:
    """The config folders a run reads: ours, ``--config-dir``, ``hydra.searchpath`` entries."""
    dirs = [CONF_DIR]
    for i, arg in enumerate(argv):
        if arg in ("--config-dir", "-cd") and i + 1 < len(argv):
            dirs.append(Path(argv[i + 1]))
        elif arg.startswith("--config-dir="):
            dirs.append(Path(arg.split("=", 1)[1]))
        elif _key(arg) == SEARCHPATH and "=" in arg:
            for entry in re.split(r"[,\[\]]", arg.split("=", 1)[1]):
                entry = entry.strip().strip("'\"")
                if entry.startswith("file://"):
                    dirs.append(Path(entry[len("file://"):]))
                elif entry and "://" not in entry:
                    dirs.append(Path(entry))
    return [d for d in dirs if d.is_dir()]


def _selected(argv: Sequence[str]) -> set[tuple[str, str]]:
    """(group, option) pairs the command composes: the primary config's defaults, replaced
    by the command line's choices (every option of a sweep's comma-separated list)."""
    groups = {p.name for p in CONF_DIR.iterdir() if p.is_dir()} - {"hydra"}
    chosen: dict[str, list[str]] = {}
    for entry in load_yaml(CONF_DIR / "config.yaml").get("defaults", []):
        if isinstance(entry, dict):
            for group, option in entry.items():
                if group in groups and isinstance(option, str):
                    chosen[group] = [option]
    for arg in argv:
        if "=" in arg and not arg.startswith("-") and _key(arg) in groups:
            chosen[_key(arg)] = [o.strip() for o in arg.split("=", 1)[1].split(",")]
    return {(g, o) for g, options in chosen.items() for o in options if o}


def check_config_syntax(argv: Sequence[str]) -> None:
    """Parse the YAML files the command composes (see the module docstring)."""
    dirs = search_dirs(argv)
    todo, seen = sorted(_selected(argv)), set()
    while todo:
        group, option = todo.pop()
        if (group, option) in seen:
            continue
        seen.add((group, option))
        for folder in dirs:
            path = folder / group / f"{option}.yaml"
            if not path.is_file():
                continue
            try:
                raw = load_yaml(path)
            except ScepsyError as exc:
                raise ConfigError(exc.problem, source=str(path), fix=exc.fix) from None
            todo += _pulled_in(raw, group)


def _pulled_in(raw: object, group: str) -> list[tuple[str, str]]:
    """The (group, option) pairs a config file's defaults list names (``/workflow@x: y``,
    ``cluster: y``, or a bare option of its own group)."""
    entries = raw.get("defaults", []) if isinstance(raw, dict) else []
    out = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, str) and entry != "_self_":
            out.append((group, entry))
        elif isinstance(entry, dict):
            for key, option in entry.items():
                name = str(key).removeprefix("override ").lstrip("/").split("@", 1)[0]
                if isinstance(option, str) and name:
                    out.append((name, option))
    return out
