"""The gateway's Prometheus metrics. The API exposes them at /metrics; each worker process
serves its own on WORKER_METRICS_PORT."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Generations take seconds to minutes; HTTP requests milliseconds to minutes.
LONG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200)

HTTP_REQUESTS = Counter(
    "musicgw_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "musicgw_http_request_duration_seconds",
    "Time to answer an HTTP request (headers sent).",
    ["method", "route"],
    buckets=LONG_BUCKETS,
)
JOBS = Counter("musicgw_jobs_total", "Jobs ended, by outcome.", ["sku", "provider", "outcome"])
JOB_DURATION = Histogram(
    "musicgw_job_duration_seconds",
    "From a worker claiming a job to its end.",
    ["sku", "provider"],
    buckets=LONG_BUCKETS,
)
QUEUE_WAIT = Histogram(
    "musicgw_job_queue_wait_seconds",
    "From a job's acceptance to a worker claiming it.",
    ["sku"],
    buckets=LONG_BUCKETS,
)
PROVIDER_ERRORS = Counter(
    "musicgw_provider_errors_total",
    "Failed provider calls, by upstream code.",
    ["provider", "code"],
)
CAPACITY_WAIT = Histogram(
    "musicgw_provider_slot_wait_seconds",
    "Time a job waited for a provider concurrency slot.",
    ["provider"],
    buckets=LONG_BUCKETS,
)
ACTIVE_HOLDS = Gauge("musicgw_active_holds", "Holds not yet captured or released.")
WAITING_CALLERS = Gauge("musicgw_waiting_callers", "Callers this API process holds open.")
