"""The layering contract (``[tool.importlinter]`` in pyproject.toml) holds, and breaks.

``lint-imports`` runs in the lint step of ``tasks.py test``; here it also runs on the
source as it is, and on copies of it with one wrong import planted, each of which must
break the contract that forbids it. A contract that a planted import cannot break would
guard nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package under ``root/src`` with ``root``'s contracts."""
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "NO_COLOR": "1",
           "COLUMNS": "200"}
    return subprocess.run(
        [str(LINT_IMPORTS), str(root / "pyproject.toml"), "--no-cache"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A copy of the package and its contracts, to plant imports in."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "src" / "kasse", tmp_path / "src" / "kasse",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def plant(root: Path, module: str, line: str) -> None:
    path = root / "src" / (module.replace(".", "/") + ".py")
    text = path.read_text(encoding="utf-8")
    path.write_text(text + f"\n{line}  # planted\n", encoding="utf-8")


def test_the_source_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_copy_keeps_every_contract_before_anything_is_planted(scratch: Path) -> None:
    result = lint_imports(scratch)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module, line, broken, named", [
    # The domain imports nobody: an adapter is a higher layer...
    ("kasse.domain.money", "import kasse.adapters.db.tables", "Layers",
     "kasse.domain.money -> kasse.adapters.db.tables"),
    # ...and a database library is forbidden outright.
    ("kasse.domain.order", "import sqlalchemy", "The domain is pure Python",
     "kasse.domain.order -> sqlalchemy"),
    ("kasse.domain.order", "import kasse.config", "The domain is pure Python",
     "kasse.domain.order -> kasse.config"),
    # Use cases know the domain, never the adapters that implement their ports.
    ("kasse.services.orders", "import kasse.adapters.db.storage", "Layers",
     "kasse.services.orders -> kasse.adapters.db.storage"),
    # Only the payment port is the use cases' to call, not a provider.
    ("kasse.services.orders", "import kasse.payments.stripe.provider", "Layers",
     "kasse.services.orders -> kasse.payments.stripe.provider"),
    # Adapters implement the services' ports; they do not call the API.
    ("kasse.adapters.db.storage", "import kasse.api.deps", "Layers",
     "kasse.adapters.db.storage -> kasse.api.deps"),
    # The API gets its parts from the container, never from an adapter.
    ("kasse.api.routes.orders", "import kasse.adapters.db.storage", "The API names no adapter",
     "kasse.api.routes.orders -> kasse.adapters.db.storage"),
    # The composition root sits under the entry points, never the other way round.
    ("kasse.bootstrap", "import kasse.cli", "Layers", "kasse.bootstrap -> kasse.cli"),
])
def test_a_planted_import_breaks_its_contract(scratch: Path, module: str, line: str,
                                              broken: str, named: str) -> None:
    plant(scratch, module, line)
    result = lint_imports(scratch)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert any(text.startswith(broken) and " BROKEN" in text
               for text in out.splitlines()), out
    assert named in out, out
