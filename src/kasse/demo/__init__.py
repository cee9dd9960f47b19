"""The demo store shipped with kasse."""

from pathlib import Path

DEMO_STORE_FILE = Path(__file__).resolve().parent / "demo-store.yaml"
