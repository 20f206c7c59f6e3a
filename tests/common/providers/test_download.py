"""Audio URL downloads: what is fetched, and everything that is refused without a connection."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from common.audio.codec import measure_duration_ms
from common.config import Settings
from common.providers.base import ProviderRejectedError
from common.providers.download import DownloadRefused, SafeDownloader
from common.providers.http import tls_context
from tests.fakes import audio
from tests.fakes.minimax import FakeMiniMaxFiles
from tests.fakes.server import TcpCanary

HOST = "cdn.fake-minimax.test"


@pytest.fixture(scope="module")
def files() -> Iterator[FakeMiniMaxFiles]:
    with FakeMiniMaxFiles(host=HOST) as server:
        yield server


@pytest.fixture
def canary() -> Iterator[TcpCanary]:
    with TcpCanary() as listener:
        yield listener


@pytest.fixture
def song(files: FakeMiniMaxFiles) -> str:
    files.reset()
    spec = audio.minimax_spec(sample_rate=44100, bitrate=128000, fmt="mp3")
    files.put("/music/song.mp3", audio.render(spec, 2000), spec)
    return f"https://{HOST}:{files.port}/music/song.mp3"


def fetch(
    files: FakeMiniMaxFiles,
    *,
    resolve_to: str = "127.0.0.1",
    allow: tuple[str, ...] = ("127.0.0.1/32",),
    **overrides: object,
) -> Callable[[str], bytes]:
    """A function fetching one URL with a downloader configured for the fake file host."""
    settings = Settings(provider_ca_bundle=files.ca_pem_path)
    values: dict[str, object] = {
        "allowed_hosts": [HOST],
        "max_bytes": 10_000_000,
        "timeout_s": 5,
        "verify": tls_context(settings),
        "resolve": {HOST: resolve_to},
        "allow_networks": allow,
    } | overrides

    def run(url: str) -> bytes:
        with SafeDownloader(**values) as client:  # type: ignore[arg-type]
            return client.fetch(url)

    return run


def test_fetches_from_the_allowed_host_over_verified_tls(
    files: FakeMiniMaxFiles, song: str
) -> None:
    data = fetch(files)(song)
    assert abs(measure_duration_ms(data, "mp3_44100_128") - 2000) <= 30
    assert files.sni_names[-1] == HOST
    assert files.last_request.headers["host"] == f"{HOST}:{files.port}"


def test_size_cap(files: FakeMiniMaxFiles, song: str) -> None:
    with pytest.raises(ProviderRejectedError) as info:
        fetch(files, max_bytes=1000)(song)
    assert info.value.provider_code == "audio_too_large"


def test_slow_body_hits_the_time_cap(files: FakeMiniMaxFiles, song: str) -> None:
    files.fail_next("slow_body")
    with pytest.raises(ProviderRejectedError) as info:
        fetch(files, timeout_s=1.5)(song)
    assert info.value.provider_code in ("audio_download_timeout", "audio_download_failed")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:{canary}/x",
        "https://localhost:{canary}/x",
        "https://10.0.0.1/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]:{canary}/x",
        "http://cdn.fake-minimax.test:{canary}/x",
        "ftp://cdn.fake-minimax.test/x",
        "https://cdn.fake-minimax.test.evil.example/x",
        "not a url",
    ],
)
def test_refused_urls_never_connect(files: FakeMiniMaxFiles, canary: TcpCanary, url: str) -> None:
    with pytest.raises(DownloadRefused):
        fetch(files)(url.format(canary=canary.port))
    assert not canary.wait_for_connections(1, timeout_s=0.3)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "192.168.0.1",
        "100.64.0.1",
        "::1",
        "::ffff:127.0.0.1",
        "fe80::1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
    ],
)
def test_allowed_host_resolving_inward_is_refused(
    files: FakeMiniMaxFiles, canary: TcpCanary, address: str
) -> None:
    url = f"https://{HOST}:{canary.port}/x"
    with pytest.raises(DownloadRefused, match="non-public"):
        fetch(files, resolve_to=address, allow=())(url)
    assert not canary.wait_for_connections(1, timeout_s=0.3)


def test_redirect_to_another_host_is_refused(
    files: FakeMiniMaxFiles, canary: TcpCanary, song: str
) -> None:
    files.redirect_to = f"https://127.0.0.1:{canary.port}/internal"
    with pytest.raises(DownloadRefused, match="another host"):
        fetch(files)(song)
    assert not canary.wait_for_connections(1, timeout_s=0.3)


def test_redirect_within_the_host_is_followed_and_checked(
    files: FakeMiniMaxFiles, song: str
) -> None:
    files.redirect_to = f"http://{HOST}:{files.port}/music/song.mp3"
    with pytest.raises(DownloadRefused, match="https"):
        fetch(files)(song)
