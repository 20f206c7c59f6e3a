"""One Settings object, built once from the environment (and an optional `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "var"


class Settings(BaseSettings):
    """Every knob of the gateway. Nothing else in the code reads the environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    # Empty means the embedded default: SQLite in data_dir.
    database_url: str = ""
    # Empty means the embedded default: an in-process queue, worker and notifier.
    redis_url: str = ""
    blob_dir: Path | None = None
    public_base_url: str = ""

    host: str = "127.0.0.1"
    port: int = 8000

    # How long the API keeps a caller waiting before answering 202 with the job id.
    sync_wait_limit_s: float = 600.0
    # How often a waiting API process re-reads the job rows it waits on (pub/sub is at-most-once).
    wait_poll_interval_s: float = 2.0
    # A job not terminal this long after it was accepted is expired and its hold released.
    job_max_runtime_s: int = 1200
    reaper_interval_s: float = 30.0
    # Unsaved audio is retained this long for GET /v1/jobs/{id}/audio.
    retention_hours: float = 24.0

    worker_concurrency: int = Field(default=64, ge=1)
    redis_max_connections: int = Field(default=200, ge=10)

    # The offline provider: simulated latency for demos/benchmarks and a failure switch for tests.
    offline_latency_ms: int = Field(default=0, ge=0)
    offline_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)

    @field_validator("database_url")
    @classmethod
    def _use_psycopg3(cls, value: str) -> str:
        # Operators paste `postgres://` / `postgresql://` URLs; the driver we ship is psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: queue, worker and wake-ups run in-process."""
        return not self.redis_url

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'musicgw.db'}"

    @property
    def effective_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def broker_url(self) -> str:
        return self.redis_url or "memory://"

    @property
    def visibility_timeout_s(self) -> int:
        # Redis redelivers unacked messages after this; it must outlast the longest job twice over.
        return 2 * self.job_max_runtime_s + 60


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return Settings()
