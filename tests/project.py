"""The project as the tests run it: its root, the test environment, commands run the way a user runs them, and a copy
of the project in a fresh git repository. A plain module: the fixtures (``conftest.py``), the Prefect server helper and
the tests import it, and it imports none of them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
TEST_ENV = {
    **os.environ,
    "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    "DVC_NO_ANALYTICS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "PYTHONPATH": "",
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}
if "PYTEST_XDIST_WORKER" in os.environ:
    # `make test` runs the suite on several workers at once: each its own Prefect home, so that the temporary
    # Prefect servers of flows run at the same time never share one database, as on two users' machines.
    TEST_ENV["PREFECT_HOME"] = os.path.join(tempfile.gettempdir(), f"prefect-home-{os.environ['PYTEST_XDIST_WORKER']}")


def run(cmd: list[str], cwd: Path, check: bool = True, timeout: float = 900, **kwargs) -> subprocess.CompletedProcess:
    """Run a command the way a user would, with the test virtualenv first on PATH."""
    result = subprocess.run(
        cmd, cwd=cwd, env=kwargs.pop("env", TEST_ENV), capture_output=True, text=True, timeout=timeout, **kwargs
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def make_project(target: Path, profile: str = "tiny") -> Path:
    """The project's tracked files in a fresh git repository, with ``profiles/<profile>.yaml`` as params."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, files.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    shutil.copy2(ROOT / "profiles" / f"{profile}.yaml", target / "params.yaml")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "project"]):
        run(cmd, target)
    return target
