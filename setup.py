"""Ships the data folders inside the wheel.

`conf/`, `models/` and `solvers/` stay at the top level of the repository (DESIGN.md section 4),
so a checkout and an editable install use them in place. A normal build copies them into
``scepsy_opt/_data/`` of the wheel, where :func:`scepsy_opt.core.resources.data_dir` finds them.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("conf", "models", "solvers")


class BuildWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "scepsy_opt" / "_data"
        for name in DATA_FOLDERS:
            destination = target / name
            if destination.exists():
                shutil.rmtree(destination)
            shutil.copytree(
                root / name,
                destination,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"),
            )


setup(cmdclass={"build_py": BuildWithData})
