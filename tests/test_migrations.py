"""Every run migrates a fresh database; this checks the models and migrations agree."""

from common.config import Settings
from common.migrations import check


def test_models_match_migrations(database_url: str) -> None:
    check(Settings(database_url=database_url, redis_url=""))


def test_sqlite_migrates_and_matches(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from common.migrations import upgrade

    settings = Settings(data_dir=tmp_path, database_url="", redis_url="")
    upgrade(settings)
    check(settings)
