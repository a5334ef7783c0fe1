"""make bench-outbox: 10,000 queued e-mails drained by the outbox worker into a real SMTP server (aiosmtpd).

BENCH_OUTBOX_N messages (default 10,000) are queued, then BENCH_OUTBOX_WORKERS workers (default 1 on SQLite,
2 on PostgreSQL; threads, each with its own session and SMTP connection) send them. BENCH_OUTBOX_CRASH=K makes
every K-th "mark sent" fail after the server accepted the message (a worker killed between send and mark; the
worker starts over and the lease lets the row be claimed again). Prints the time to drain, messages per second,
how many never arrived (lost) and how many arrived twice (doubled), and one JSON line with the figures.

SQLite at bench/outbox.db by default (recreated); DATABASE_URL selects PostgreSQL, whose database name must
contain "bench" (its tables are dropped and created).
"""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

N = int(os.environ.get("BENCH_OUTBOX_N", "10000"))
URL = os.environ.get("DATABASE_URL") or f"sqlite:///{ROOT / 'bench' / 'outbox.db'}"
CRASH = int(os.environ.get("BENCH_OUTBOX_CRASH", "0"))


class Received:
    def __init__(self):
        self.ids: Counter = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        mid = next((line.split(b":", 1)[1].strip() for line in envelope.content.split(b"\r\n")
                    if line.lower().startswith(b"message-id:")), b"")
        with self.lock:
            self.ids[mid.decode()] += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    if URL.startswith("postgresql") and "bench" not in URL.rsplit("/", 1)[-1]:
        raise SystemExit("DATABASE_URL must name a database containing 'bench' (its tables are dropped)")
    if URL.startswith("sqlite:///"):
        Path(URL[len("sqlite:///"):]).unlink(missing_ok=True)
    from app.config import Config
    from app.factory import create_app
    from kernel import delivery
    from kernel.clock import now
    from kernel.db import db
    from kernel.notify import Outbox

    port = free_port()
    received = Received()
    server = Controller(received, hostname="127.0.0.1", port=port)
    server.start()
    app = create_app(Config, SQLALCHEMY_DATABASE_URI=URL, MAIL_URL=f"smtp://127.0.0.1:{port}", RATELIMIT_ENABLED=False)
    dialect = URL.split(":", 1)[0]
    workers = int(os.environ.get("BENCH_OUTBOX_WORKERS", "2" if dialect.startswith("postgresql") else "1"))
    with app.app_context():
        db.drop_all()
        db.create_all()
        at = now()
        rows = [dict(key=f"bench:{i}/department:{i % 7}", property_id=None, register="bench", record_id=i,
                     channel="email", recipient=f"dept{i % 7}@example.com", subject=f"bench message {i}",
                     body=f"message {i}\n" * 5, state="pending", attempts=0, next_attempt_at=at, created_at=at)
                for i in range(N)]
        for start in range(0, N, 1000):
            db.session.execute(insert(Outbox.__table__), rows[start:start + 1000])
        db.session.commit()
        keys = {delivery.message_id(r["key"]) for r in rows}

    real_mark = delivery._mark_sent
    marks = Counter()
    lock = threading.Lock()

    def crashing_mark(session, row):
        with lock:
            marks["n"] += 1
            crash = CRASH and marks["n"] % CRASH == 0
        if crash:
            raise RuntimeError("killed between send and mark")
        real_mark(session, row)

    delivery._mark_sent = crashing_mark
    crashes = Counter()

    def worker() -> None:
        with app.app_context():
            channels = delivery.channels_from(app.config)
            try:
                while True:
                    try:
                        counts = delivery.run_once(db.session, channels, batch=100, lease=2)
                    except RuntimeError:
                        db.session.rollback()  # the worker "restarts": its claimed rows wait for the lease
                        with lock:
                            crashes["n"] += 1
                        continue
                    if not counts:
                        pending = db.session.scalar(select(func.count()).select_from(Outbox).where(
                            Outbox.state == "pending"))
                        db.session.commit()
                        if not pending:
                            return
                        time.sleep(0.2)  # leased rows of a "dead" worker come back after the lease
            finally:
                for ch in channels.values():
                    ch.close()
                db.session.remove()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    drained = time.perf_counter() - started
    delivery._mark_sent = real_mark
    server.stop()
    with app.app_context():
        states = dict(db.session.execute(select(Outbox.state, func.count()).group_by(Outbox.state)).all())
    lost = len(keys - set(received.ids))
    doubled = sum(1 for k, n in received.ids.items() if n > 1)
    result = dict(bench="outbox", database=dialect, messages=N, workers=workers, crash_every=CRASH,
                  crashes=crashes["n"], drain_seconds=round(drained, 2), per_second=round(N / drained, 1),
                  received=sum(received.ids.values()), lost=lost, doubled=doubled, states=states,
                  cpus=os.cpu_count(), load=os.getloadavg()[0])
    print(f"outbox: {N} messages, {workers} worker(s) on {dialect}: drained in {drained:.1f} s "
          f"({N / drained:.0f}/s); lost {lost}, doubled {doubled}; crashes injected {crashes['n']}; states {states}")
    print(json.dumps(result))
    if lost or doubled or states.get("pending") or states.get("failed"):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
