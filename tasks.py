#!/usr/bin/env python3
"""The two commands a newcomer needs, using nothing but python3 and pip.

    python3 tasks.py run     set up .venv, migrate, load the demo store, make its first
                             owner (printed once), serve on :8080
    python3 tasks.py test    set up .venv with test tools (and Debian's chromium for the
                             browser tests) and run the whole suite
    python3 tasks.py bench   run the benchmarks (see the README's performance section)
    python3 tasks.py plantings   plant each guarded bug in a copy and check its tests fail

``test`` passes further arguments to pytest. ``test --postgres URL`` runs the suite
against a fresh database created on that PostgreSQL server.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
DEFAULT_CHROMIUM = "/usr/bin/chromium"


def _sh(*args: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True, env=env)


def ensure_venv(extras: str = "") -> None:
    """Create .venv and install kasse (editable) when pyproject.toml changed."""
    if not PYTHON.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    spec = (ROOT / "pyproject.toml").read_bytes() + extras.encode()
    stamp = VENV / f".installed{('-' + extras) if extras else ''}"
    digest = hashlib.sha256(spec).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    _sh(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    _sh(PYTHON, "-m", "pip", "install", "--quiet", "-e", target)
    stamp.write_text(digest)


def ensure_chromium() -> None:
    """Install Debian's chromium for the browser tests (tests/browser) when it is missing.

    Playwright drives this system browser by path: its own browser downloads are not
    used, so the browser comes from the distribution's packages.
    """
    configured = os.environ.get("KASSE_CHROMIUM")
    browser = Path(configured or DEFAULT_CHROMIUM)
    if browser.exists():
        return
    if configured:
        sys.exit(f"KASSE_CHROMIUM is {configured}, which does not exist")
    if shutil.which("apt-get") is None:
        sys.exit(f"the browser tests need chromium at {browser}; install it (or set "
                 "KASSE_CHROMIUM to a Chromium binary) and run again")
    prefix: list[str] = []
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        if shutil.which("sudo") is None:
            sys.exit(f"the browser tests need chromium at {browser}: run 'apt-get install "
                     "chromium' as root (or set KASSE_CHROMIUM) and run again")
        prefix = ["sudo"]
    print(f"installing chromium for the browser tests ({browser} is missing)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _sh(*prefix, "apt-get", "update", env=env)
    _sh(*prefix, "apt-get", "install", "-y", "--no-install-recommends", "chromium", env=env)
    if not browser.exists():
        sys.exit(f"chromium was installed but {browser} does not exist; set KASSE_CHROMIUM "
                 "to the browser's path")


def run(args: list[str]) -> int:
    ensure_venv()
    kasse = BIN / "kasse"
    _sh(kasse, "migrate")
    _sh(kasse, "demo")
    # The demo's first owner and their management token: printed on the first start only.
    _sh(kasse, "staff", "init", "owner@demo.example", "--name", "Demo owner",
        "--token-name", "demo")
    print("\nkasse serves the demo store on http://127.0.0.1:8080 (Ctrl+C stops it);\n"
          "its demo storefront is at http://127.0.0.1:8080/demo\n", flush=True)
    # The demo's card payments go to the simulated test gateway, served by kasse itself.
    os.environ.setdefault("KASSE_TEST_GATEWAY", "true")
    os.execv(str(kasse), [str(kasse), "serve", "--port", "8080", *args])


def test(args: list[str]) -> int:
    ensure_venv("test")
    ensure_chromium()
    env = dict(os.environ)
    if args[:1] == ["--postgres"]:
        if len(args) < 2:
            sys.exit("usage: tasks.py test --postgres postgresql://user@host:port/db")
        env["KASSE_TEST_DATABASE_URL"] = args[1]
        args = args[2:]
    engine = "PostgreSQL" if env.get("KASSE_TEST_DATABASE_URL") else "SQLite"
    print(f"running the test suite on {engine}", flush=True)
    if not args:
        _sh(BIN / "ruff", "check", "src", "tests", "bench", "tasks.py", env=env)
        _sh(BIN / "mypy", env=env)
        _sh(BIN / "lint-imports", env=env)  # the layering contract (pyproject.toml)
    result = subprocess.run([str(PYTHON), "-m", "pytest", *args], cwd=ROOT, env=env)
    return result.returncode


def plantings(args: list[str]) -> int:
    """Plant each guarded bug in a copy of the source and check that its tests fail
    (tests/plantings); ``--postgres URL`` runs the ones that matter on PostgreSQL."""
    ensure_venv("test")
    env = dict(os.environ)
    if args[:1] == ["--postgres"]:
        if len(args) < 2:
            sys.exit("usage: tasks.py plantings --postgres postgresql://user@host:port/db")
        env["KASSE_TEST_DATABASE_URL"] = args[1]
    else:
        env.pop("KASSE_TEST_DATABASE_URL", None)
    return subprocess.run([str(PYTHON), "-m", "tests.plantings"], cwd=ROOT,
                          env=env).returncode


def bench(args: list[str]) -> int:
    """The benchmarks (bench/): kasse and a bare baseline under load, on both engines."""
    ensure_venv("test")
    return subprocess.run([str(PYTHON), "-m", "bench", *args], cwd=ROOT).returncode


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 (tells users of an old python3 why)
        sys.exit("kasse needs Python 3.11 or newer")
    commands = {"run": run, "test": test, "bench": bench, "plantings": plantings}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    raise SystemExit(main())
