"""Trace importers: recorded llm-application logs to a
:class:`~scepsy_opt.core.trace.TraceTable`.

Formats (keys of :data:`IMPORTERS`):

* ``jsonl``: the project's own JSON Lines trace format
  (:func:`~scepsy_opt.core.trace.read_jsonl`);
* ``litellm``: litellm per-call logs, one request per session
  (:func:`~scepsy_opt.workflow.importers.litellm.import_litellm`);
* ``otel``: OpenTelemetry exports (OTLP/JSON or OTLP protobuf) with GenAI or OpenInference
  attributes, one request per trace (:func:`~scepsy_opt.workflow.importers.otel.import_otel`);
* ``metagpt``: MetaGPT-style multi-agent round logs, one request per log
  (:func:`~scepsy_opt.workflow.importers.metagpt.import_metagpt`).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

from scepsy_opt.core.errors import TraceError
from scepsy_opt.core.trace import TraceTable, read_jsonl
from scepsy_opt.workflow.importers.litellm import import_litellm
from scepsy_opt.workflow.importers.metagpt import import_metagpt
from scepsy_opt.workflow.importers.otel import import_otel

IMPORTERS: dict[str, Callable[..., TraceTable]] = {
    "jsonl": read_jsonl,
    "litellm": import_litellm,
    "otel": import_otel,
    "metagpt": import_metagpt,
}

__all__ = ["IMPORTERS", "import_litellm", "import_metagpt", "import_otel", "load_traces"]


def load_traces(path: str | os.PathLike[str], fmt: str, **options: Any) -> TraceTable:
    """Import the traces at ``path`` with the importer of format ``fmt``.

    ``options`` are the importer's keyword options (e.g. ``llm_from="role"``); an unknown format
    or option raises :class:`~scepsy_opt.core.errors.TraceError`.
    """
    importer = IMPORTERS.get(fmt)
    if importer is None:
        raise TraceError("unknown trace format", source=str(path), field="format", value=fmt,
                         fix=f"use one of {', '.join(sorted(IMPORTERS))}")
    accepted = [name for name, p in inspect.signature(importer).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TraceError(f"format {fmt!r} takes no option(s) {', '.join(unknown)}",
                         source=str(path), field="options", value=options,
                         fix=f"use only {', '.join(accepted)}" if accepted
                         else f"pass no options for format {fmt!r}")
    return importer(path, **options)
