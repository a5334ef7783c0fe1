"""gunicorn settings for FrontDesk: `gunicorn --config deploy/gunicorn.conf.py wsgi:app` (see frontdesk.service).

Every value can be overridden from the environment (EnvironmentFile of the systemd unit); README "Production"
lists them.
"""
import multiprocessing
import os
import shutil
from pathlib import Path

from prometheus_client import multiprocess

bind = os.environ.get("FRONTDESK_BIND", "127.0.0.1:8000")  # nginx proxies to this; never expose it directly
# WEB_CONCURRENCY is gunicorn's own variable; default: 2 per core + 1, at most 8 (each keeps a DB pool)
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))
# sync: nginx buffers requests and responses, so slow clients never hold a worker. gthread (with GUNICORN_THREADS)
# lets a worker run Python for one request while another waits on PostgreSQL (bench/load.py compares them).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))  # a full export of a large register streams for a while
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (a leak cannot grow for ever); the jitter keeps them from restarting together.
# Not too often: a new worker builds the app (3 s of CPU, measured) and serves nothing meanwhile; at 2,000 and the
# throughput target of bench/load.py (100 requests/s, 50 per worker) each worker would restart every 40 s.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10

# The app writes one JSON line per request (path and endpoint, never the query string, which can carry a
# searched ID number or phone). gunicorn's access line would repeat it with the query string: off.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# Only nginx on this host may set X-Forwarded-*; the app itself trusts TRUSTED_PROXIES hops (werkzeug ProxyFix).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    """Prometheus multi-process mode: each worker writes its counters to files in this directory, /metrics
    adds them up. The directory must start empty, or counts of the last run would be added again."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
