"""bin/serve adds up its workers' metrics: prometheus_client's multiprocess mode in a
directory that bin/serve empties of a previous run's files before the workers start."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.serve_kit import Served


def test_bin_serve_adds_up_its_workers_metrics(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"a previous run's")  # unreadable if kept
    token = "metrics-token-0123456789"
    server = Served(
        DOORMAN_WORKERS="2",
        DOORMAN_METRICS_TOKEN=token,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    try:
        sent = 0
        # Until both workers have answered (each connection goes to either).
        while len(list(metrics_dir.glob("histogram_*.db"))) < 2 and sent < 200:
            assert requests.get(server.base + "/healthz", timeout=5).status_code == 200
            sent += 1
        exposition = requests.get(
            server.base + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5
        ).text
    finally:
        server.stop()
    assert not (metrics_dir / "counter_1.db").exists()
    assert len(list(metrics_dir.glob("histogram_*.db"))) == 2
    healthz = {"endpoint": "/healthz", "method": "GET", "status": "200"}
    counted = [
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == "doorman_http_requests_total" and sample.labels == healthz
    ]
    assert counted == [sent + 1]  # and the one with which Served saw it start
