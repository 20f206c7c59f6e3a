"""save_to_blob, the gallery and share pages in headless Chromium: on the embedded default
with local blobs, and on Postgres + Redis with S3 storage (SeaweedFS)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.fixtures.browser import chromium, screenshot_path
from tests.fixtures.seaweed import seaweed_s3
from tests.fixtures.stack import Stack

PROMPT = '<script>document.title="pwned"</script> warm <b>jazz</b> trio'
LYRICS = "[verse]\nA line of the song\n[chorus]\nSing it <i>loud</i>"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module", params=["local", "s3"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, e2e_database: str
) -> Iterator[Stack]:
    """The embedded default with local blobs (`make run`), and the production shape (Postgres,
    Redis, a Celery worker) storing on a real S3 server (SeaweedFS)."""
    if request.param == "local":
        stack = Stack(tmp_path_factory.mktemp("pages"), embedded=True).start()
        yield stack
        stack.stop()
        return
    with seaweed_s3(tmp_path_factory.mktemp("seaweed"), public_prefixes=["gw/saved/"]) as s3:
        stack = Stack(
            tmp_path_factory.mktemp("pages-s3"), database_url=e2e_database, env=s3.env(prefix="gw/")
        ).start()
        yield stack
        stack.stop()


def site_name(stack: Stack) -> str:
    return "local" if stack.embedded else "s3"


def save_track(stack: Stack, key: str, **body: object) -> dict:
    with stack.client(key) as client:
        r = client.post(
            "/v1/audio/music",
            params={"save_to_blob": "1"},
            json={"prompt": PROMPT, "music_length_ms": 4000} | body,
        )
    assert r.status_code == 200, r.text
    return r.json()


def audio_duration(page: Page, selector: str = "audio") -> float:
    return float(
        page.eval_on_selector(
            selector,
            """(el) => new Promise((resolve, reject) => {
        if (el.readyState >= 1) return resolve(el.duration);
        el.addEventListener('loadedmetadata', () => resolve(el.duration));
        el.addEventListener('error', () => reject(new Error('audio failed to load')));
        el.load();
    })""",
        )
    )


def sign_in(page: Page, stack: Stack, key: str) -> None:
    page.goto(f"{stack.base_url}/gallery")
    assert page.url.endswith("/gallery/login")
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.base_url}/gallery")


def test_save_to_blob_contract(site: Stack) -> None:
    account_id, key = site.account("10")
    saved = save_track(site, key, response_format="ulaw_8000", lyrics=LYRICS)
    assert set(saved) == {
        "object",
        "job_id",
        "kind",
        "url",
        "duration_sec",
        "cost_usd",
        "balance_usd",
    }
    assert (
        saved["object"],
        saved["kind"],
        saved["duration_sec"],
        saved["cost_usd"],
        saved["balance_usd"],
    ) == ("audio.generation", "audio", 4.0, 0.54, 9.46)
    public = httpx.get(saved["url"])  # no credentials: the URL is public
    assert public.status_code == 200 and public.headers["content-type"] == "audio/mpeg"
    with site.client(key) as client:
        job = client.get(f"/v1/jobs/{saved['job_id']}").json()
    assert job["url"] == saved["url"] and job["status"] == "succeeded"
    assert site.balance(account_id) == "9.46"


def test_gallery_share_and_revoke_in_a_browser(site: Stack, browser: Browser) -> None:
    _, key = site.account("10")
    saved = save_track(site, key, lyrics=LYRICS)
    owner = browser.new_context()
    page = owner.new_page()
    sign_in(page, site, key)
    track = page.locator(f"article[data-job-id='{saved['job_id']}']")
    assert track.count() == 1
    assert PROMPT in track.locator(".prompt").inner_text()  # markup shown as text
    assert page.title() != "pwned"
    assert (
        abs(
            audio_duration(page, f"article[data-job-id='{saved['job_id']}'] audio")
            - saved["duration_sec"]
        )
        <= 0.2
    )
    track.locator("button", has_text="Share").click()
    share_url = page.input_value("#new-share-link")
    page.screenshot(path=screenshot_path(f"gallery-{site_name(site)}.png"), full_page=True)

    visitor = browser.new_context()  # no cookies at all
    public_page = visitor.new_page()
    response = public_page.goto(share_url)
    assert response is not None and response.status == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    og_audio = public_page.get_attribute("meta[property='og:audio']", "content")
    assert og_audio == saved["url"]
    assert abs(audio_duration(public_page) - saved["duration_sec"]) <= 0.2
    assert PROMPT in public_page.inner_text(".prompt") and public_page.title() != "pwned"
    public_page.screenshot(path=screenshot_path(f"share-{site_name(site)}.png"), full_page=True)

    page.locator(
        f"article[data-job-id='{saved['job_id']}'] button", has_text="Stop sharing"
    ).click()
    page.wait_for_url(f"{site.base_url}/gallery")
    gone = public_page.goto(share_url)
    assert gone is not None and gone.status == 404
    owner.close()
    visitor.close()


def test_state_changes_need_the_csrf_token(site: Stack, browser: Browser) -> None:
    _, key = site.account("10")
    saved = save_track(site, key)
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, site, key)
    cookie = {c["name"]: c["value"] for c in context.cookies()}["musicgw_session"]
    forged = httpx.post(
        f"{site.base_url}/gallery/tracks/{saved['job_id']}/share",
        cookies={"musicgw_session": cookie},
        data={"csrf_token": "guess"},
    )
    assert forged.status_code == 403
    context.close()


def test_one_time_link_and_sign_out(site: Stack, browser: Browser) -> None:
    account_id, key = site.account("10")
    save_track(site, key)
    link = site.cli("gallery-link", account_id)["url"]
    context = browser.new_context()
    page = context.new_page()
    page.goto(link)  # a GET alone never signs in
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.base_url}/gallery")
    assert page.locator("article.track").count() == 1
    page.click("text=Sign out")
    page.wait_for_url(f"{site.base_url}/gallery/login")
    page.goto(f"{site.base_url}/gallery")
    assert page.url.endswith("/gallery/login")
    reused = context.new_page()
    reused.goto(link)
    reused.click("button[type=submit]")
    assert reused.locator("[role=alert]").count() == 1  # used links don't work twice
    context.close()


def test_another_account_sees_none_of_it(site: Stack) -> None:
    _, key = site.account("10")
    saved = save_track(site, key)
    _, stranger = site.account("10")
    with site.client(stranger) as client:
        assert client.get("/v1/gallery").json()["data"] == []
        for method, path in (
            ("GET", f"/v1/jobs/{saved['job_id']}"),
            ("GET", f"/v1/jobs/{saved['job_id']}/audio"),
            ("POST", f"/v1/jobs/{saved['job_id']}/share"),
            ("DELETE", f"/v1/jobs/{saved['job_id']}/share"),
        ):
            assert client.request(method, path).status_code == 404, path


def test_unknown_share_token_is_404(site: Stack) -> None:
    assert httpx.get(f"{site.base_url}/s/not-a-real-token").status_code == 404


def test_gallery_json_pages_newest_first(site: Stack) -> None:
    _, key = site.account("10")
    made = [
        save_track(site, key, prompt=f"track {i}", music_length_ms=1000)["job_id"] for i in range(3)
    ]
    with site.client(key) as client:
        first = client.get("/v1/gallery", params={"limit": 2}).json()
        second = client.get(
            "/v1/gallery", params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        bad = client.get("/v1/gallery", params={"cursor": "garbage"})
    assert [item["job_id"] for item in first["data"] + second["data"]] == made[::-1]
    assert second["next_cursor"] is None and bad.status_code == 400
    assert first["data"][0]["prompt"] == "track 2" and first["data"][0]["shared"] is False
