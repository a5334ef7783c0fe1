"""/metrics for Prometheus: requests and latencies per endpoint, overdue records per register and property,
and every gauge a component registers in kernel.probes (the outbox's depth, for one).

Guarded: a bearer token equal to METRICS_TOKEN (what the Prometheus server sends), or a signed-in user who
holds a role in METRICS_ROLES (IT) at any property. Under gunicorn with several workers each worker counts
its own requests: set PROMETHEUS_MULTIPROC_DIR (an empty directory, wiped at start, see
deploy/gunicorn.conf.py) and this endpoint adds them up; the overdue counts and gauges are read from the
database at scrape time by whichever worker answers.
"""
from __future__ import annotations

import hmac
import os
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, current_app, request
from flask_login import current_user
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from kernel import probes, scoping
from kernel.db import db
from kernel.deadlines import overdue_clause
from kernel.identity import Property
from kernel.register import registers

REGISTRY = CollectorRegistry()
REQUESTS = Counter("frontdesk_requests", "HTTP requests served", ("endpoint", "method", "status"), registry=REGISTRY)
LATENCY = Histogram("frontdesk_request_duration_seconds", "Time to serve a request (until the body is sent)",
                    ("endpoint", "method"), registry=REGISTRY,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))


def observe(record: dict[str, Any]) -> None:
    endpoint = record.get("endpoint") or "unmatched"  # one label for every unknown URL, however many there are
    REQUESTS.labels(endpoint, record["method"], str(record["status"])).inc()
    if record.get("duration_ms") is not None:
        LATENCY.labels(endpoint, record["method"]).observe(record["duration_ms"] / 1000)


class DatabaseGauges:
    """Read at scrape time: overdue records per register and property, and the gauges components register."""

    def describe(self) -> list[Metric]:
        return []  # nothing to read at registration; collect() runs per scrape

    def collect(self) -> Iterator[Metric]:
        try:
            yield self.overdue()
        except Exception:  # the database is down or behind: the request counters still answer
            db.session.rollback()
            current_app.logger.exception("overdue counts failed")
        for hook in probes.gauges():
            try:
                value = hook.read()
            except Exception:  # one broken hook must not hide the other metrics
                current_app.logger.exception("gauge %s failed", hook.name)
                continue
            family = GaugeMetricFamily(hook.name, hook.doc, labels=hook.labels if hook.labels else None)
            if isinstance(value, dict):
                for labels, v in value.items():
                    family.add_metric(tuple(labels), float(v))
            else:
                family.add_metric((), float(value))
            yield family

    @staticmethod
    def overdue() -> Metric:
        family = GaugeMetricFamily("frontdesk_overdue_records", "Open records past a declared deadline",
                                   labels=("register", "property"))
        codes = dict(db.session.execute(select(Property.id, Property.code)).all())
        for name, model in sorted(registers().items()):
            if not getattr(model, "deadlines", ()) or not hasattr(model, "property_id"):
                continue
            counts = dict(db.session.execute(select(model.property_id, func.count()).where(overdue_clause(model))
                                             .group_by(model.property_id)).all())
            for pid, code in sorted(codes.items()):
                family.add_metric((name, code), counts.get(pid, 0))
        return family


def _authorised() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    sent = request.headers.get("Authorization", "")
    if token and sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].encode(), token.encode()):
        return True
    if not current_user.is_authenticated:
        return False
    roles = set(current_app.config.get("METRICS_ROLES", ("it",)))
    return any(roles & scoping.roles_at(pid) for pid in scoping.user_property_ids())


def view() -> Response:
    if not _authorised():
        if current_user.is_authenticated:
            return Response("forbidden\n", 403, mimetype="text/plain")
        return Response("unauthorised\n", 401, {"WWW-Authenticate": "Bearer"}, mimetype="text/plain")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # every worker's counters, from the shared directory
    else:
        registry = CollectorRegistry()
        registry.register(REGISTRY)
    registry.register(DatabaseGauges())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def install(app: Flask) -> None:
    app.add_url_rule("/metrics", "metrics", view)
