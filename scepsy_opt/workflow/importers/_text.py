"""Reading trace files as text: a file that is not UTF-8 is refused with the line and byte of
the first undecodable byte, and a JSON Lines file whose numbers Python cannot read (an integer
of more than 4300 digits) with the line holding it, before any importer parses a value."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scepsy_opt.core.errors import TraceError, not_utf8
from scepsy_opt.core.trace import iter_json_lines

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def check_utf8(file: Path) -> str:
    """The text of ``file``; :class:`TraceError` naming ``file:line``, the byte offset and the
    bytes when it is not UTF-8."""
    data = file.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise not_utf8(exc, f"{file}:{line}", TraceError, field="encoding") from None


def json_lines(file: Path, fix: str) -> Iterator[tuple[int, Any]]:
    """:func:`~scepsy_opt.core.trace.iter_json_lines` of a UTF-8 file, with a number that
    cannot be read refused as a :class:`TraceError` naming its line."""
    lines = _LINE_BREAK.split(check_utf8(file))  # as iter_json_lines's text mode splits
    line_no = 0
    try:
        for line_no, value in iter_json_lines(file, fix=fix):
            yield line_no, value
    except TraceError:
        raise
    except ValueError as exc:  # json.loads: an integer literal beyond Python's digit limit
        bad = next(k for k in range(line_no, len(lines)) if lines[k].strip()) + 1
        raise TraceError(f"a number cannot be read ({exc})", source=f"{file}:{bad}",
                         fix="write times and counts as numbers of at most 20 digits") from None
