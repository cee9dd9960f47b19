"""Counting what happens (checkouts started, orders finalized …) without knowing who
listens: the composition root plugs in a meter (Prometheus in ``adapters.metrics``)."""

from __future__ import annotations

from typing import Protocol


class Meter(Protocol):
    def count(self, name: str, **labels: str) -> None:
        """Add one to the counter ``name`` with these label values."""


class NoMeter:
    def count(self, name: str, **labels: str) -> None:
        return None


_meter: Meter = NoMeter()


def use(meter: Meter) -> None:
    """Install the process's meter (at start-up)."""
    global _meter
    _meter = meter


def count(name: str, **labels: str) -> None:
    _meter.count(name, **labels)
