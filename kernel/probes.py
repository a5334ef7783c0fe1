"""Where components plug into the operator's view: readiness checks (/readyz) and gauges (/metrics).

Both registries live here, below everything, so a component at any floor (the outbox, attachments) adds its
own without the web shell naming it:

    @readiness
    def outbox() -> tuple[str, bool, object]:
        oldest = ...                                   # seconds the oldest pending message has waited
        return "outbox", oldest < 600, {"oldest_pending_s": oldest}

    @gauge("frontdesk_outbox_depth", "Messages waiting in the outbox")
    def outbox_depth() -> float: ...                   # or {("label value", ...): value} with labels=(...)

A check answers (name, ok, details); details must be JSON-serialisable and hold no personal data.
A check or gauge that raises counts as failed (readiness) or is left out of that scrape (gauge).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Check = Callable[[], tuple[str, bool, Any]]
GaugeValue = float | dict[tuple[str, ...], float]

_CHECKS: dict[str, Check] = {}
_GAUGES: dict[str, Gauge] = {}


@dataclass(frozen=True)
class Gauge:
    name: str
    doc: str
    labels: tuple[str, ...]
    read: Callable[[], GaugeValue]


def readiness(fn: Check) -> Check:
    """Register a readiness check (keyed by its function's qualified name, so re-imports do not double it)."""
    _CHECKS[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def readiness_checks() -> list[Check]:
    return list(_CHECKS.values())


def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Callable[[Callable[[], GaugeValue]],
                                                                         Callable[[], GaugeValue]]:
    """Register a gauge read at scrape time: a number, or {label values: number} when `labels` are named."""
    def register(fn: Callable[[], GaugeValue]) -> Callable[[], GaugeValue]:
        _GAUGES[name] = Gauge(name, doc, tuple(labels), fn)
        return fn
    return register


def gauges() -> list[Gauge]:
    return list(_GAUGES.values())


def forget(name: str) -> None:
    """Remove a check (by qualified name) or a gauge (by metric name); for tests and throwaway components."""
    _CHECKS.pop(name, None)
    _GAUGES.pop(name, None)
