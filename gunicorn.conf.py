"""How production serves Doorman: ``gunicorn -c gunicorn.conf.py config.wsgi``.

Every value can be overridden on the command line (``--bind``, ``--workers``) or through
``GUNICORN_CMD_ARGS``; the environment variables below are the documented knobs.
"""

import glob
import multiprocessing
import os

bind = os.environ.get("DOORMAN_BIND", "0.0.0.0:8000")

# The hot paths (token endpoint, bearer validation) are short CPU-bound requests whose waits
# are single database or Redis round trips: plain processes, two per core, keep the cores busy
# while one waits (measured with bench/run on 2 cores: 4 sync workers beat 2-4 processes of 2-4
# threads, whose keep-alive saves reconnects but whose threads contend for the GIL).
# DOORMAN_THREADS > 1 switches to threaded workers, which keep client connections alive.
workers = int(os.environ.get("DOORMAN_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("DOORMAN_THREADS", 1))
worker_class = "gthread" if threads > 1 else "sync"
keepalive = int(os.environ.get("DOORMAN_KEEPALIVE", 5))
timeout = 30
graceful_timeout = 30

# Refuse oversize request lines and headers before Django sees them (RFC 9110 §5.4: 431/400).
limit_request_line = 4094
limit_request_fields = 64
limit_request_field_size = 8190

# Workers restart after a bounded number of requests so that no slow leak can grow unnoticed;
# the jitter keeps them from restarting together.
max_requests = int(os.environ.get("DOORMAN_MAX_REQUESTS", 20000))
max_requests_jitter = max_requests // 10

forwarded_allow_ips = os.environ.get("DOORMAN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("DOORMAN_ACCESS_LOG") or None
loglevel = os.environ.get("DOORMAN_LOG_LEVEL", "info").lower()

# /metrics adds up every worker's counts through files in one directory, as with bin/serve:
# the variable is set here, before any worker imports prometheus_client, and the counts of a
# previous run are emptied once, when the master starts (not on a reload).
if os.environ.get("DOORMAN_METRICS_TOKEN") or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _default_dir = f"var/metrics/{bind.split(':')[-1]}"
    _metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or _default_dir
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.abspath(_metrics_dir)


def on_starting(server):
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if metrics_dir:
        os.makedirs(metrics_dir, exist_ok=True)
        for stale in glob.glob(os.path.join(metrics_dir, "*.db")):
            os.remove(stale)
