"""The local store maps keys to files under its root, and only plain relative keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.storage.local import LocalBlobStore


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", public_base_url="http://gw")


def test_a_key_is_a_file_under_the_root(store: LocalBlobStore, tmp_path: Path) -> None:
    stored = store.put("saved/acct/job.mp3", b"ID3", content_type="audio/mpeg", public=True)
    assert store.path("saved/acct/job.mp3") == (tmp_path / "blobs/saved/acct/job.mp3").resolve()
    assert store.path("saved/acct/job.mp3").read_bytes() == b"ID3"
    assert stored.url == "http://gw/blobs/saved/acct/job.mp3"


@pytest.mark.parametrize(
    "key",
    [
        "../outside.mp3",
        "saved/../audio/acct/job.mp3",  # inside the store, but past the public prefix
        "saved/./job.mp3",
        "saved//job.mp3",
        "/etc/passwd",
        "",
        ".",
        "saved/",
    ],
)
def test_keys_that_are_not_plain_paths_are_refused(store: LocalBlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.path(key)


def test_a_root_reached_through_a_link_still_works(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    store = LocalBlobStore(tmp_path / "link", public_base_url="http://gw")
    store.put("audio/a.mp3", b"x", content_type="audio/mpeg")
    assert store.path("audio/a.mp3") == tmp_path / "real" / "audio" / "a.mp3"
