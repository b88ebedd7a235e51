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


def test_a_write_that_the_disk_refuses_is_an_output_error_naming_the_path(tmp_path):
    """A destination under a regular file (it can never be made, even as root): an
    OutputError naming the file and the fix, no traceback-worthy OSError, nothing written."""
    from scepsy_opt.core.errors import OutputError

    (tmp_path / "file").write_text("kept")
    path = tmp_path / "file" / "run" / "a.json"
    with pytest.raises(OutputError) as caught:
        atomic_write_text(path, "{}")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'file' / 'run'}: cannot write (Not a directory)")
    assert "Fix: a part of the path is a file" in message
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
    assert (tmp_path / "file").read_text() == "kept"
