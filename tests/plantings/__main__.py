"""Run every planting (see ``tests/plantings/__init__.py``) and report which were caught."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.plantings import PLANTINGS, Planting

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("src", "tests", "pyproject.toml")


def _copy(into: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=ignore)
        else:
            shutil.copy2(source, into / name)


def _plant(into: Path, planting: Planting) -> None:
    path = into / planting.file
    text = path.read_text(encoding="utf-8")
    for old, new in planting.replacements:
        found = text.count(old)
        if found != 1:
            raise SystemExit(f"planting {planting.name!r}: the text to replace is found "
                             f"{found} times in {planting.file} (expected once); the code "
                             f"moved, update tests/plantings:\n{old}")
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def run(planting: Planting, engine: str) -> tuple[bool, str]:
    """Plant the bug in a copy and run its tests there: True when they failed."""
    with tempfile.TemporaryDirectory(prefix="kasse-planting-") as folder:
        copy = Path(folder)
        _copy(copy)
        _plant(copy, planting)
        env = {**os.environ, "PYTHONPATH": f"{copy / 'src'}{os.pathsep}{copy}",
               "PYTHONDONTWRITEBYTECODE": "1"}
        if engine == "sqlite":
            env.pop("KASSE_TEST_DATABASE_URL", None)
        result = subprocess.run(
            [sys.executable, "-m", "pytest", *planting.tests, "-x", "-q",
             "-p", "no:cacheprovider"],
            cwd=copy, env=env, capture_output=True, text=True, timeout=900, check=False)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else result.stderr.strip()[-300:]
    why = next((line[1:].strip() for line in lines if line.startswith("E ")), "")
    if why:  # the first line of the failure: what the tests noticed
        summary = f"{summary}; {why[:200]}"
    if result.returncode == 1:  # tests ran and failed: the bug was caught
        return True, summary
    if result.returncode == 0:
        return False, f"the planted bug went unnoticed: {summary}"
    return False, f"the tests could not run (exit {result.returncode}): {summary}\n" \
                  f"{result.stdout[-2000:]}{result.stderr[-2000:]}"


def main() -> int:
    engine = "postgresql" if os.environ.get("KASSE_TEST_DATABASE_URL") else "sqlite"
    wanted = sys.argv[1:]  # optional: only the plantings whose name has one of these
    chosen = [p for p in PLANTINGS if engine in p.engines
              and (not wanted or any(word in p.name for word in wanted))]
    print(f"{len(chosen)} planted bugs on {engine}", flush=True)
    missed = 0
    for planting in chosen:
        started = time.monotonic()
        caught, summary = run(planting, engine)
        took = time.monotonic() - started
        mark = "caught" if caught else "MISSED"
        print(f"  {mark:6}  {planting.name} ({took:.0f} s): {summary}", flush=True)
        if not caught:
            missed += 1
            print(f"          without it: {planting.why}", flush=True)
    if missed:
        print(f"{missed} planted bug(s) not caught", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
