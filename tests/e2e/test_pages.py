"""save_to_blob, the gallery and share pages in headless Chromium: on the embedded default
with local blobs, and on Postgres + Redis with S3 storage (SeaweedFS)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from playwright.sync_api import Browser, Page

from api.pages.render import clock as clock_ms
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


def clock(seconds: float) -> str:
    return clock_ms(round(seconds * 1000))


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


def image_width(page: Page, selector: str) -> int:
    """The natural width of a loaded image: 0 if it failed to load."""
    return int(
        page.eval_on_selector(
            selector,
            """(el) => new Promise((resolve) => {
        if (el.complete) return resolve(el.naturalWidth);
        el.addEventListener('load', () => resolve(el.naturalWidth));
        el.addEventListener('error', () => resolve(0));
    })""",
        )
    )


def shoot(page: Page, name: str) -> None:
    """Screenshots at a desktop and a phone width: artifacts/screenshots/<name>-<width>.png."""
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_load_state("networkidle")
        page.screenshot(path=screenshot_path(f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def sign_in(page: Page, stack: Stack, key: str, *, screenshot: bool = False) -> None:
    page.goto(f"{stack.base_url}/gallery")
    assert page.url.endswith("/gallery/login")
    assert page.locator(".brand").inner_text().startswith("musicgw")
    if screenshot:
        shoot(page, f"login-{site_name(stack)}")
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.base_url}/gallery")


def waveform_of(url: str) -> httpx.Response:
    """The stored waveform beside a saved track's MP3, once the worker has drawn it."""
    deadline = time.monotonic() + 30
    while True:
        response = httpx.get(url.rsplit(".", 1)[0] + ".png")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def assert_link_is_off(share_url: str) -> None:
    """A revoked (or replaced) link: its page and everything the page used are 404s."""
    for path in ("", "/audio", "/download", "/waveform.png"):
        assert httpx.get(f"{share_url}{path}").status_code == 404, path


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
    # The key is random: the URL names neither the account nor the job.
    assert re.search(r"/saved/[0-9a-f]{32}\.mp3$", saved["url"]), saved["url"]
    assert account_id not in saved["url"] and saved["job_id"] not in saved["url"]
    public = httpx.get(saved["url"])  # no credentials: the URL is public
    assert public.status_code == 200 and public.headers["content-type"] == "audio/mpeg"
    with site.client(key) as client:
        job = client.get(f"/v1/jobs/{saved['job_id']}").json()
    assert job["url"] == saved["url"] and job["status"] == "succeeded"
    assert site.balance(account_id) == "9.46"
    # The waveform picture is stored beside the track, in the same store.
    stored = waveform_of(saved["url"])
    assert stored.status_code == 200 and stored.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_gallery_share_and_revoke_in_a_browser(site: Stack, browser: Browser) -> None:
    account_id, key = site.account("10")
    save_track(site, key, prompt="late night lo-fi beat with warm vinyl crackle")
    saved = save_track(site, key, lyrics=LYRICS, model="minimax-music")
    owner = browser.new_context()
    page = owner.new_page()
    sign_in(page, site, key, screenshot=True)
    card = f"article[data-job-id='{saved['job_id']}']"
    track = page.locator(card)
    assert track.count() == 1
    assert PROMPT in track.locator(".prompt").inner_text()  # markup shown as text
    assert page.title() != "pwned"
    # $10 - $0.54 - $0.045 = $9.415: shown to the cent, half up, the exact figure in its title
    assert page.inner_text("#balance") == "Balance $9.42"
    assert page.get_attribute("#balance", "title") == "$9.415"
    assert image_width(page, f"{card} img.wave") > 0
    assert track.locator(".duration").inner_text() == clock(saved["duration_sec"])
    assert track.locator(".price").inner_text() == "$0.05"  # $0.045, shown to the cent
    assert track.locator(".price").get_attribute("title") == "Charged $0.045"
    download = page.request.get(
        f"{site.base_url}{track.locator('a[download]').get_attribute('href')}"
    )
    assert download.status == 200 and download.headers["content-type"] == "audio/mpeg"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert (
        abs(
            audio_duration(page, f"article[data-job-id='{saved['job_id']}'] audio")
            - saved["duration_sec"]
        )
        <= 0.2
    )
    track.locator("button", has_text="Share").click()
    first_url = page.input_value("#new-share-link")
    assert httpx.get(first_url).status_code == 200
    # A new link retires the old one, and everything its page used.
    track.locator("button", has_text="New share link").click()
    share_url = page.input_value("#new-share-link")
    assert share_url != first_url
    assert_link_is_off(first_url)
    assert page.get_attribute("#new-share-link", "readonly") is not None
    # Beside "Stop sharing", what it does and what it does not.
    note = track.locator(".share-note").inner_text()
    assert "off at once" in note and "permanent file URL" in note and "keeps working" in note
    track.locator("details.lyrics summary").click()
    shoot(page, f"gallery-{site_name(site)}")

    visitor = browser.new_context()  # no cookies at all
    public_page = visitor.new_page()
    fetched: list[str] = []
    public_page.on("request", lambda request: fetched.append(request.url))
    response = public_page.goto(share_url)
    assert response is not None and response.status == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "media-src 'self'" in response.headers["content-security-policy"]
    # The page names neither the permanent URL (nor its key) nor the account.
    html = response.text()
    object_name = saved["url"].rsplit("/", 1)[1].removesuffix(".mp3")
    for secret in (saved["url"], object_name, account_id, "/saved/", "/blobs/"):
        assert secret not in html, secret
    og_audio = public_page.get_attribute("meta[property='og:audio']", "content")
    assert og_audio == f"{share_url}/audio"
    assert (
        public_page.get_attribute("audio", "src")
        == f"{share_url.removeprefix(site.base_url)}/audio"
    )
    assert abs(audio_duration(public_page) - saved["duration_sec"]) <= 0.2
    assert PROMPT in public_page.inner_text(".prompt") and public_page.title() != "pwned"
    meta = {
        name: public_page.get_attribute(f"meta[property='{name}'], meta[name='{name}']", "content")
        for name in (
            "og:image",
            "og:image:width",
            "og:image:height",
            "og:site_name",
            "twitter:card",
        )
    }
    assert meta["og:image"] is not None and meta["og:image"].startswith(f"{site.base_url}/s/")
    assert (meta["og:image:width"], meta["og:image:height"]) == ("1200", "630")
    assert (meta["og:site_name"], meta["twitter:card"]) == ("musicgw", "summary_large_image")
    preview = httpx.get(meta["og:image"])  # as a link previewer fetches it: no cookies
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
    assert image_width(public_page, "img.wave") == 1200
    assert public_page.inner_text(".duration") == clock(saved["duration_sec"])
    assert public_page.input_value("#share-link") == share_url
    lyrics = public_page.inner_text(".lyrics")
    assert "CHORUS" in lyrics.upper() and "Sing it <i>loud</i>" in lyrics
    mp3 = httpx.get(saved["url"]).content
    shared_mp3 = httpx.get(f"{site.base_url}{public_page.get_attribute('a[download]', 'href')}")
    assert shared_mp3.status_code == 200 and shared_mp3.content == mp3
    shoot(public_page, f"share-{site_name(site)}")
    # Everything the page loaded (its picture, its audio) came through the token.
    assert fetched and all(url.startswith(f"{share_url}") for url in fetched), fetched
    assert any(url == f"{share_url}/audio" for url in fetched)
    assert_plays_in_ranges(og_audio, mp3)

    page.locator(
        f"article[data-job-id='{saved['job_id']}'] button", has_text="Stop sharing"
    ).click()
    page.wait_for_url(f"{site.base_url}/gallery")
    gone = public_page.goto(share_url)
    assert gone is not None and gone.status == 404
    assert_link_is_off(share_url)
    assert page.locator(f"{card} .share-note").count() == 0
    # The permanent URL is the owner's, by contract: stopping a share leaves it alone.
    assert httpx.get(saved["url"]).status_code == 200
    owner.close()
    visitor.close()


def assert_plays_in_ranges(audio_url: str, mp3: bytes) -> None:
    """`/s/{token}/audio` answers whole, and in the byte ranges a player asks for."""
    size = len(mp3)
    whole = httpx.get(audio_url)
    assert whole.status_code == 200 and whole.content == mp3
    assert whole.headers["content-type"] == "audio/mpeg"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["cache-control"].startswith("private")
    for asked, start, stop in (
        ("bytes=0-", 0, size),
        ("bytes=0-99", 0, 100),
        ("bytes=100-", 100, size),
        ("bytes=-100", size - 100, size),
        (f"bytes={size - 10}-{size + 1000}", size - 10, size),
    ):
        part = httpx.get(audio_url, headers={"Range": asked})
        assert part.status_code == 206, asked
        assert part.headers["content-range"] == f"bytes {start}-{stop - 1}/{size}", asked
        assert part.headers["content-type"] == "audio/mpeg", asked
        assert part.content == mp3[start:stop], asked
    past = httpx.get(audio_url, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"
    # Several ranges at once are answered with the whole track, as RFC 9110 allows.
    several = httpx.get(audio_url, headers={"Range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and several.content == mp3


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
    answer = reused.goto(link)
    # A used link says so, and offers no button that could only fail.
    assert answer is not None and answer.status == 410
    assert "already used" in reused.inner_text("#link-used")
    assert reused.locator("button, input[type=submit]").count() == 0
    assert reused.locator(".brand").count() == 1
    shoot(reused, f"link-used-{site_name(site)}")
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


def test_unknown_share_token_is_404(site: Stack, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    answer = page.goto(f"{site.base_url}/s/not-a-real-token")
    assert answer is not None and answer.status == 404
    assert page.locator(".brand").count() == 1 and "Nothing playing here" in page.inner_text("h1")
    shoot(page, f"not-found-{site_name(site)}")
    context.close()
    assert_link_is_off(f"{site.base_url}/s/not-a-real-token")


def test_delete_a_track(site: Stack, browser: Browser) -> None:
    account_id, key = site.account("10")
    kept = save_track(site, key, prompt="the one to keep")
    doomed = save_track(site, key, prompt="the one to delete")
    twin = save_track(site, key, prompt="deleted by the API")
    assert waveform_of(doomed["url"]).status_code == 200
    with site.client(key) as client:
        share_url = client.post(f"/v1/jobs/{doomed['job_id']}/share").json()["share_url"]
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, site, key)
    card = page.locator(f"article[data-job-id='{doomed['job_id']}']")
    card.locator("summary", has_text="Delete").click()
    card.locator("button", has_text="Delete track").click()
    page.wait_for_url(f"{site.base_url}/gallery?deleted=1")
    assert page.locator(f"article[data-job-id='{doomed['job_id']}']").count() == 0
    assert page.locator(f"article[data-job-id='{kept['job_id']}']").count() == 1
    context.close()

    assert httpx.get(share_url).status_code == 404
    assert httpx.get(doomed["url"]).status_code in (403, 404)  # the MP3 is gone from the store
    assert httpx.get(doomed["url"].rsplit(".", 1)[0] + ".png").status_code in (403, 404)
    with site.client(key) as client:
        assert client.delete(f"/v1/gallery/{twin['job_id']}").status_code == 204
        assert client.delete(f"/v1/gallery/{twin['job_id']}").status_code == 404
        listed = [item["job_id"] for item in client.get("/v1/gallery").json()["data"]]
        job = client.get(f"/v1/jobs/{doomed['job_id']}").json()
    assert listed == [kept["job_id"]]
    # The job and its charge stay on record, the ledger still adds up, and every track kept
    # (stored under a random key) is found in the store.
    assert job["status"] == "succeeded" and job.get("url") is None
    assert site.balance(account_id) == "8.38"
    site.cli("ledger", "verify", "--objects", "--account", account_id)


def test_gallery_pages_in_a_browser(site: Stack, browser: Browser) -> None:
    _, key = site.account("10")
    with ThreadPoolExecutor(4) as pool:
        made = list(
            pool.map(
                lambda i: save_track(site, key, prompt=f"track {i}", music_length_ms=1000),
                range(21),
            )
        )
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, site, key)
    first = page.locator("article.track").evaluate_all("els => els.map(e => e.dataset.jobId)")
    assert len(first) == 20
    page.click("a[rel=next]")
    page.wait_for_url(re.compile(r"/gallery\?cursor="))
    second = page.locator("article.track").evaluate_all("els => els.map(e => e.dataset.jobId)")
    assert page.locator("a[rel=next]").count() == 0
    assert sorted(first + second) == sorted(saved["job_id"] for saved in made)
    page.click("text=Newest tracks")
    page.wait_for_url(f"{site.base_url}/gallery")
    context.close()


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
