"""The Vercel Blob fake itself: what it refuses, so that the store's tests can fail."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.vercel_blob import MAX_PATHNAME_LENGTH, FakeVercelBlob


@pytest.fixture
def api(vercel_fake: FakeVercelBlob) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {vercel_fake.token}", "x-api-version": "12"}
    with httpx.Client(base_url=vercel_fake.api_url, headers=headers) as client:
        yield client


def put(
    client: httpx.Client, pathname: str, *, body: bytes = b"abc", **headers: str
) -> httpx.Response:
    """PUT a blob; header names may be spelt with underscores (x_content_type=...)."""
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    return client.put("/", params={"pathname": pathname}, content=body, headers=sent)


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def test_put_answers_the_blob_json(vercel_fake: FakeVercelBlob, api: httpx.Client) -> None:
    response = put(api, "saved/a.mp3", x_content_type="audio/mpeg")

    assert response.status_code == 200
    body = response.json()
    assert body["url"] == vercel_fake.blob_url("saved/a.mp3")
    assert body["downloadUrl"] == f"{body['url']}?download=1"
    assert (body["pathname"], body["contentType"]) == ("saved/a.mp3", "audio/mpeg")
    assert {"contentDisposition", "etag"} <= body.keys()


def test_an_existing_blob_is_overwritten_only_when_allowed(api: httpx.Client) -> None:
    assert put(api, "saved/a.mp3").status_code == 200

    refused = put(api, "saved/a.mp3", body=b"new")
    allowed = put(api, "saved/a.mp3", body=b"new", x_allow_overwrite="1")

    assert refused.status_code == 400
    assert error_code(refused) == "bad_request"
    assert refused.json()["error"]["message"].startswith("This blob already exists")
    assert allowed.status_code == 200


def test_a_random_suffix_changes_the_pathname(api: httpx.Client) -> None:
    response = put(api, "saved/a.mp3", x_add_random_suffix="1")

    pathname = response.json()["pathname"]
    assert pathname.startswith("saved/a-") and pathname.endswith(".mp3")
    assert pathname != "saved/a.mp3"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"authorization": "Bearer wrong"}, 403, "forbidden"),
        ({"authorization": ""}, 403, "forbidden"),
        ({"x-api-version": ""}, 400, "bad_request"),
        ({"x-vercel-blob-access": "secret"}, 400, "bad_request"),
        ({"x-content-length": "1"}, 400, "bad_request"),
    ],
)
def test_bad_requests_are_refused(
    api: httpx.Client, headers: dict[str, str], status: int, code: str
) -> None:
    response = api.put("/", params={"pathname": "saved/a.mp3"}, content=b"abc", headers=headers)

    assert (response.status_code, error_code(response)) == (status, code)


def test_pathname_length_limit(api: httpx.Client) -> None:
    assert put(api, "a" * MAX_PATHNAME_LENGTH).status_code == 200
    too_long = put(api, "a" * (MAX_PATHNAME_LENGTH + 1))
    assert (too_long.status_code, error_code(too_long)) == (400, "bad_request")


def test_head_by_url_or_pathname_and_delete(vercel_fake: FakeVercelBlob, api: httpx.Client) -> None:
    url = put(api, "audio/a.mp3", x_vercel_blob_access="private").json()["url"]

    by_url = api.get("", params={"url": url}).json()
    by_pathname = api.get("", params={"url": "audio/a.mp3"}).json()
    deleted = api.post("/delete", json={"urls": [url, "audio/never.mp3"]})
    gone = api.get("", params={"url": "audio/a.mp3"})

    assert by_url == by_pathname
    assert (by_url["size"], by_url["url"]) == (3, vercel_fake.blob_url("audio/a.mp3", "private"))
    assert deleted.status_code == 200
    assert (gone.status_code, error_code(gone)) == (404, "not_found")


def test_blob_urls_serve_public_blobs_to_anyone_and_private_ones_with_the_token(
    vercel_fake: FakeVercelBlob, api: httpx.Client
) -> None:
    public = put(api, "saved/p.mp3", body=b"public", x_content_type="audio/mpeg").json()["url"]
    private = put(api, "audio/q.mp3", body=b"private", x_vercel_blob_access="private").json()
    token = {"authorization": f"Bearer {vercel_fake.token}"}

    anonymous = httpx.get(public)
    assert (anonymous.status_code, anonymous.content) == (200, b"public")
    assert anonymous.headers["content-type"] == "audio/mpeg"
    assert httpx.get(private["url"]).status_code == 403
    assert httpx.get(private["url"], headers=token).content == b"private"
    # The same pathname under the other access is not the blob.
    assert httpx.get(vercel_fake.blob_url("audio/q.mp3", "public")).status_code == 404


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("service_unavailable", 503),
        ("rate_limited", 429),
        ("forbidden", 403),
        ("store_suspended", 403),
        ("unknown_error", 500),
    ],
)
def test_failure_switches(
    vercel_fake: FakeVercelBlob, api: httpx.Client, kind: str, status: int
) -> None:
    vercel_fake.retry_after_s = 7
    vercel_fake.fail_next(kind, 2)

    answers = [put(api, "saved/a.mp3", x_allow_overwrite="1") for _ in range(3)]

    assert [(r.status_code, r.json()["error"]["code"]) for r in answers[:2]] == [(status, kind)] * 2
    assert answers[2].status_code == 200
    if kind == "rate_limited":
        assert answers[0].headers["retry-after"] == "7"
    assert len(vercel_fake.requests) == 3
