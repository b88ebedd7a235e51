"""Atomic artifact writes: a failure leaves the previous file, never a partial one."""

import pytest

from scepsy_opt.core.artifacts import atomic_write_bytes, atomic_write_lines, atomic_write_text


def test_writes_replace_the_file(tmp_path):
    path = tmp_path / "deep" / "a.txt"
    atomic_write_text(path, "one\n")
    atomic_write_lines(path, ["two\n", "three\n"])
    assert path.read_text() == "two\nthree\n"
    atomic_write_bytes(path, b"\x00four")
    assert path.read_bytes() == b"\x00four"
    assert [p.name for p in path.parent.iterdir()] == ["a.txt"]


def test_a_failing_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write_text(path, "kept\n")

    def lines():
        yield "partial\n"
        raise RuntimeError("the producer failed")

    with pytest.raises(RuntimeError):
        atomic_write_lines(path, lines())
    assert path.read_text() == "kept\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
