"""Size limits of the code's structure: no function over 80 lines, a thin CLI."""

import ast
from pathlib import Path

import scepsy_opt

PACKAGE = Path(scepsy_opt.__file__).parent
MAX_FUNCTION_LINES = 80
MAX_CLI_LINES = 250


def long_functions(source: str, limit: int) -> list[tuple[str, int]]:
    """Every function of ``source`` longer than ``limit`` lines (docstring included)."""
    return [(node.name, node.end_lineno - node.lineno + 1)
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > limit]


def test_the_finder_counts_lines_with_the_docstring():
    body = "\n".join(f"    x{i} = {i}" for i in range(4))
    source = f'def f():\n    """Doc."""\n{body}\n\n\ndef g():\n    pass\n'
    assert long_functions(source, 5) == [("f", 6)]
    assert long_functions(source, 6) == []


def test_no_function_is_longer_than_80_lines():
    found = {f"{path.relative_to(PACKAGE)}:{name}": lines
             for path in sorted(PACKAGE.rglob("*.py"))
             for name, lines in long_functions(path.read_text(), MAX_FUNCTION_LINES)}
    assert found == {}


def test_the_cli_is_thin():
    assert len((PACKAGE / "cli.py").read_text().splitlines()) < MAX_CLI_LINES
