"""The API page (`/docs`, `/redoc`) on the embedded default, in headless Chromium with every
request to a host other than the server's own refused: it renders from the app alone."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.fixtures.browser import chromium, screenshot_path
from tests.fixtures.stack import Stack


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("docs"), embedded=True).start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def offline_page(browser: Browser) -> Iterator[tuple[Page, list[tuple[str, str]]]]:
    """A page that can reach 127.0.0.1 only, and what it tried to fetch elsewhere: (kind, url)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    refused: list[tuple[str, str]] = []

    def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append((route.request.resource_type, route.request.url))
            route.abort("internetdisconnected")

    context.route("**/*", loopback_only)
    try:
        yield context.new_page(), refused
    finally:
        context.close()


def test_swagger_ui_lists_the_operations_and_tries_them_with_the_key(
    site: Stack, offline_page: tuple[Page, list[tuple[str, str]]]
) -> None:
    page, refused = offline_page
    _, key = site.account("5")
    page.goto(f"{site.base_url}/docs")
    music = page.locator(".opblock-post").filter(
        has=page.locator('.opblock-summary-path[data-path="/v1/audio/music"]')
    )
    expect(music).to_be_visible()
    assert page.locator(".opblock").count() >= 10

    # Authorize with the key, then "Try it out" on GET /v1/jobs/{job_id} with its example id:
    # the request carries the bearer key, so the answer is 404 for that job, not 401.
    page.click("button.authorize")
    page.fill(".auth-container input", key)
    page.click(".auth-btn-wrapper button.authorize")
    page.click("button.btn-done")
    job = page.locator("#operations-jobs-read_job_v1_jobs__job_id__get")
    job.locator(".opblock-summary").click()
    job.locator("button.try-out__btn").click()
    with page.expect_request(lambda r: "/v1/jobs/job_" in r.url) as sent:
        job.locator("button.execute").click()
    assert sent.value.headers.get("authorization") == f"Bearer {key}"
    status = job.locator(".live-responses-table tbody .response-col_status")
    expect(status).to_have_text("404")
    page.screenshot(path=screenshot_path("docs.png"), full_page=True)
    assert refused == []


def test_redoc_renders_the_operations(
    site: Stack, offline_page: tuple[Page, list[tuple[str, str]]]
) -> None:
    page, refused = offline_page
    page.goto(f"{site.base_url}/redoc")
    expect(page.get_by_role("heading", name="Generate a music track")).to_be_visible()
    music = page.locator('[id="tag/music/operation/create_music_v1_audio_music_post"]')
    expect(music.get_by_text("bearerAuth").first).to_be_visible()
    expect(music.get_by_text("webhook_url").first).to_be_visible()
    page.screenshot(path=screenshot_path("redoc.png"))
    # ReDoc's bundle links its "API docs by Redocly" logo from its CDN: a decorative picture,
    # the only thing the page asks the internet for.
    assert {kind for kind, _ in refused} <= {"image"}, refused
