"""Serving needs none of the ``eval`` extra: every module of app/, graders/, models/ and rubrics/
but the offline ones (graders.evaluation, app.eval_run) and alembic's migration scripts imports
with scikit-learn, scipy and matplotlib made unimportable. A module-level import of one of them
fails this test; import it inside the offline function that needs it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = textwrap.dedent(
    """
    import importlib, pkgutil, sys
    from importlib.abc import MetaPathFinder

    OFFLINE_LIBRARIES = ("sklearn", "scipy", "matplotlib")
    OFFLINE_MODULES = ("graders.evaluation", "app.eval_run")
    SCRIPTS = ".migrations"  # alembic runs these; importing one outside alembic fails

    class Blocked(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in OFFLINE_LIBRARIES:
                raise ImportError(f"{name} is in the eval extra: serving must not import it")
            return None

    sys.meta_path.insert(0, Blocked())
    failed = []
    for top in ("app", "graders", "models", "rubrics"):
        package = importlib.import_module(top)
        for found in pkgutil.walk_packages(package.__path__, top + "."):
            if found.name.startswith(OFFLINE_MODULES) or SCRIPTS in found.name:
                continue
            try:
                importlib.import_module(found.name)
            except ImportError as exc:
                failed.append(f"{found.name}: {exc}")
    for name in ("app.factory", "app.cli", "app.runtime", "app.worker"):
        importlib.import_module(name)
    print("\\n".join(failed))
    sys.exit(1 if failed else 0)
    """
)


def test_serving_imports_without_the_eval_extra() -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout + run.stderr
