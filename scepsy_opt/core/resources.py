"""Where the data folders (`conf/`, `models/`, `solvers/`) live.

In a checkout and after ``pip install -e .`` they are the top-level folders next to the package.
A normal ``pip install .`` ships copies inside the wheel under ``scepsy_opt/_data/`` (see
``setup.py``), which take precedence when present.
"""

from __future__ import annotations

from pathlib import Path

from scepsy_opt.core.errors import CatalogError

DATA_FOLDERS = ("conf", "models", "solvers")
_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the scepsy_opt package


def data_dir(name: str) -> Path:
    """Absolute path of the shipped data folder ``name`` (one of :data:`DATA_FOLDERS`)."""
    if name not in DATA_FOLDERS:
        raise ValueError(f"unknown data folder {name!r}; expected one of {DATA_FOLDERS}")
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise CatalogError(
        f"the data folder '{name}/' was not found next to the scepsy_opt package",
        source=str(_PACKAGE_DIR),
        fix="reinstall scepsy_opt from a full checkout (pip install .) so the wheel ships it",
    )
