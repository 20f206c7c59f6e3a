"""Async mode (Prefer: respond-async, Server-Sent Events, cancel) and signed webhooks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from common.webhooks.signing import verify
from tests.e2e.conftest import assert_ledger_sound
from tests.fixtures.stack import Stack


class Receiver:
    """A webhook endpoint on loopback that fails its first `fail_first` deliveries."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.received: list[tuple[dict[str, str], str, int]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                status = 500 if len(outer.received) < outer.fail_first else 204
                outer.received.append(
                    ({k.lower(): v for k, v in self.headers.items()}, body, status)
                )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.received) >= count, self.received


@pytest.fixture(scope="module")
def site(e2e_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        tmp_path_factory.mktemp("async"),
        database_url=e2e_database,
        beat=True,
        env={
            "OFFLINE_LATENCY_MS": "1200",
            "WEBHOOK_ALLOW_HTTP": "true",
            "WEBHOOK_ALLOW_NETWORKS": '["127.0.0.1/32"]',
            "WEBHOOK_RETRY_BASE_S": "0.2",
            "REAPER_INTERVAL_S": "0.2",
        },
    ).start()
    yield stack
    stack.stop()


def read_events(stack: Stack, key: str, job_id: str) -> list[tuple[str, dict]]:
    events, name = [], None
    with httpx.stream(
        "GET",
        f"{stack.base_url}/v1/jobs/{job_id}/events",
        timeout=30,
        headers={"Authorization": f"Bearer {key}"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    return events


def test_async_job_with_events_and_a_signed_webhook(site: Stack) -> None:
    account_id, key = site.account("5")
    secret = site.cli("accounts", "webhook", account_id)["webhook_secret"]
    receiver = Receiver()
    try:
        with site.client(key) as client:
            started = time.monotonic()
            r = client.post(
                "/v1/audio/music",
                headers={"Prefer": "respond-async"},
                json={"prompt": "dub techno", "music_length_ms": 2000, "webhook_url": receiver.url},
            )
            assert time.monotonic() - started < 1.0  # did not wait for the 1.2 s provider
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        assert r.headers["location"] == f"/v1/jobs/{job_id}"
        assert r.headers["preference-applied"] == "respond-async"
        assert r.json()["status"] in ("queued", "running")
        events = read_events(site, key, job_id)
        assert [name for name, _ in events] == ["queued", "running", "succeeded"]
        done = events[-1][1]
        assert (done["job_id"], done["cost_usd"], done["duration_sec"], done["balance_usd"]) == (
            job_id,
            0.27,
            2.0,
            4.73,
        )
        receiver.wait_for(1)
        headers, body, _ = receiver.received[0]
        payload = json.loads(body)
        assert payload["type"] == "job.succeeded" and payload["data"]["job_id"] == job_id
        args = {
            "msg_id": headers["webhook-id"],
            "timestamp": int(headers["webhook-timestamp"]),
            "signature_header": headers["webhook-signature"],
            "now": int(time.time()),
        }
        assert verify(secret, body=body, **args)
        assert not verify(secret, body=body.replace("succeeded", "failed"), **args)
        assert not verify(secret, body=body, **(args | {"now": args["timestamp"] + 3600}))
    finally:
        receiver.close()


def test_a_failing_receiver_gets_the_third_delivery(site: Stack) -> None:
    account_id, key = site.account("5")
    site.cli("accounts", "webhook", account_id)
    receiver = Receiver(fail_first=2)
    try:
        with site.client(key) as client:
            r = client.post(
                "/v1/audio/music",
                json={"prompt": "x", "music_length_ms": 1000, "webhook_url": receiver.url},
            )
            assert r.status_code == 200
            receiver.wait_for(3)
            assert [status for _, _, status in receiver.received] == [500, 500, 204]
            ids = {headers["webhook-id"] for headers, _, _ in receiver.received}
            assert len(ids) == 1  # the same message, retried
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                log = client.get(f"/v1/jobs/{r.headers['x-kyma-job-id']}").json()["webhooks"]
                if log and log[0]["state"] == "delivered":
                    break
                time.sleep(0.1)
        assert (log[0]["state"], log[0]["attempts"], log[0]["last_status"]) == ("delivered", 3, 204)
    finally:
        receiver.close()


def test_webhooks_to_private_addresses_are_refused(site: Stack) -> None:
    """Refused at the door, before any hold (a delivery whose host turns private later fails at
    once: tests/common/test_webhooks.py)."""
    account_id, key = site.account("5")
    with site.client(key) as client:
        r = client.post(
            "/v1/audio/music",
            json={
                "prompt": "x",
                "music_length_ms": 1000,
                "webhook_url": "http://169.254.169.254/latest/meta-data/",
            },
        )
    assert r.status_code == 400
    error = r.json()["error"]
    assert (error["param"], "non-public" in error["message"]) == ("webhook_url", True)
    assert site.balance(account_id) == "5"


def test_cancel_a_queued_job_and_not_a_finished_one(site: Stack, e2e_database: str) -> None:
    account_id, key = site.account("5")
    site.kill("worker")  # nothing will take the job off the queue
    try:
        with site.client(key) as client:
            r = client.post(
                "/v1/audio/music",
                headers={"Prefer": "respond-async"},
                json={"prompt": "x", "music_length_ms": 1000},
            )
            job_id = r.json()["job_id"]
            cancelled = client.post(f"/v1/jobs/{job_id}/cancel")
            again = client.post(f"/v1/jobs/{job_id}/cancel")
    finally:
        site.start_worker()
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["error"]["code"]) == (
        "failed",
        "cancelled",
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_cancellable"
    assert site.balance(account_id) == "5"
    with site.client(key) as client:  # the restarted worker must leave it alone
        time.sleep(1.5)
        assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "failed"
    assert_ledger_sound(e2e_database, account_id)
