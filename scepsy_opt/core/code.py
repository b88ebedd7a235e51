"""The project's own modules as code: which of them a file imports (read from its import
statements), for the import-layer test and for the code digests that key cached fits."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def module_file(dotted: str) -> Path | None:
    """The file of the project module or package ``dotted`` (None: not one)."""
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def project_imports(path: Path) -> set[str]:
    """The project modules the file ``path`` imports (dotted names): relative imports
    resolved, and ``from scepsy_opt.x import y`` counted as the module ``x.y`` when there is
    one."""
    names = list(path.resolve().relative_to(PACKAGE.parent).with_suffix("").parts)
    is_package = names[-1] == "__init__"
    if is_package:
        names = names[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = names if is_package else names[:-1]
                base = base[:len(base) - (node.level - 1)]
                targets = [".".join(base + ([node.module] if node.module else []))]
            else:
                targets = [node.module or ""]
            targets += [f"{targets[0]}.{alias.name}" for alias in node.names
                        if module_file(f"{targets[0]}.{alias.name}")]
        found.update(t for t in targets
                     if t == PACKAGE.name or t.startswith(PACKAGE.name + "."))
    return found


def imported_files(folders: tuple[str, ...]) -> list[Path]:
    """The files of ``folders`` (subpackages of the project) and every project file they
    import, directly or not, with the packages above each (Python runs those too); sorted."""
    todo = [path for folder in folders for path in sorted((PACKAGE / folder).glob("*.py"))]
    todo.append(PACKAGE / "__init__.py")
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in project_imports(path):
            parts = name.split(".")
            todo += [f for f in (module_file(name), *(
                module_file(".".join(parts[:i])) for i in range(1, len(parts)))) if f]
    return sorted(seen)
