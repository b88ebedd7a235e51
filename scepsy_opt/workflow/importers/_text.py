"""Trace files are UTF-8: a file that is not is refused with the line and byte of the first
undecodable byte, before any parser reads it."""

from __future__ import annotations

from pathlib import Path

from scepsy_opt.core.errors import TraceError


def check_utf8(file: Path) -> str:
    """The text of ``file``; :class:`TraceError` naming ``file:line``, the byte offset and the
    bytes when it is not UTF-8."""
    data = file.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TraceError(f"the file is not UTF-8 text (byte {exc.start}: {exc.reason})",
                         source=f"{file}:{line}", field="encoding",
                         value=data[exc.start:exc.end],
                         fix="save the trace file as UTF-8 (e.g. iconv -t UTF-8), or point to "
                             "the text log rather than a binary file") from None
