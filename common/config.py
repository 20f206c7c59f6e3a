"""One Settings object, built once from the environment (and an optional `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
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

    log_level: str = "INFO"
    # One JSON object per line (for log shippers), or plain text for a terminal.
    log_format: Literal["json", "text"] = "json"

    host: str = "127.0.0.1"
    port: int = 8000
    # An idle connection is closed this long after its last response (uvicorn's keep-alive).
    http_keepalive_timeout_s: int = Field(default=20, ge=1)
    # A client must send a whole request head within this, from connecting or from its first byte.
    http_header_timeout_s: float = Field(default=10.0, gt=0)
    # A client must send a whole request body (at most 64 KiB) within this once its head is in.
    http_body_timeout_s: float = Field(default=30.0, gt=0)
    # Open connections, or requests in flight, per API process beyond which uvicorn answers 503.
    http_max_concurrency: int = Field(default=4096, ge=1)
    # Peers whose X-Forwarded-For/-Proto are believed: comma-separated IPs or networks, or *.
    forwarded_allow_ips: str = "127.0.0.1,::1"

    # How long the API keeps a caller waiting before answering 202 with the job id.
    sync_wait_limit_s: float = 600.0
    # How often a waiting API process re-reads the job rows it waits on (pub/sub is at-most-once).
    wait_poll_interval_s: float = 2.0
    # A job not terminal this long after it was accepted is expired and its hold released.
    job_max_runtime_s: int = 1200
    reaper_interval_s: float = 30.0
    # Unsaved audio is retained this long for GET /v1/jobs/{id}/audio.
    retention_hours: float = 24.0

    # Abuse limits: requests per API key (a `limits` rate string) and jobs in flight per account;
    # each account may override both.
    rate_limit_per_key: str = "300/minute"
    # Reads (GET /v1/jobs/…, /v1/gallery, share links) have a budget of their own per key, so
    # polling a job cannot use up the budget for making tracks, nor flood the database.
    rate_limit_reads_per_key: str = "1200/minute"
    # The in-flight cap: inside the code it is `max_in_flight` (counted by the account's
    # `active_holds`); this field, its env var and the column `account.max_concurrent_jobs`
    # keep their public names.
    max_concurrent_jobs_per_account: int = Field(default=50, ge=1)
    idempotency_ttl_hours: float = 24.0

    worker_concurrency: int = Field(default=64, ge=1)
    # Threads each API process runs its database and storage steps on (anyio's default is 40);
    # unset, see effective_api_threads.
    api_threads: int | None = Field(default=None, ge=1)
    # Postgres connections each process keeps open, and how many more it may open in a burst
    # (closed again when returned). Opening one costs both sides far more than a query, so
    # keep about as many as the process has threads doing database work at once (the API:
    # API_THREADS); a worker's threads hold one only for a statement or two.
    db_pool_size: int = Field(default=16, ge=1)
    db_max_overflow: int = Field(default=8, ge=0)
    # Each worker process serves Prometheus metrics here (0: off).
    worker_metrics_port: int = Field(default=9101, ge=0)
    redis_max_connections: int = Field(default=200, ge=10)

    # The offline provider: simulated latency for demos/benchmarks and a failure switch for tests.
    offline_latency_ms: int = Field(default=0, ge=0)
    offline_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # Finished tracks the offline provider keeps per process (it is deterministic): 0 turns it off.
    offline_cache_mb: int = Field(default=64, ge=0)

    # Blob storage. `local` serves saved objects itself at {public_base_url}/blobs/<key>.
    storage_backend: Literal["local", "s3", "vercel"] = "local"
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None  # MinIO, SeaweedFS, R2…; empty for AWS
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    # Where saved objects are publicly readable (a CDN, or the bucket's public endpoint).
    s3_public_base_url: str = ""
    vercel_blob_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("vercel_blob_token", "blob_read_write_token")
    )
    vercel_blob_api_url: str = "https://vercel.com/api/blob"
    vercel_blob_api_version: str = "12"
    storage_max_attempts: int = Field(default=4, ge=1, le=10)

    # Real providers. A SKU goes live when its provider has a key, unless its route says otherwise.
    elevenlabs_api_key: SecretStr | None = None
    elevenlabs_base_url: str = "https://api.elevenlabs.io"
    # The ElevenLabs plan: formats above it are asked for as mp3_44100_128 and transcoded.
    elevenlabs_tier: Literal["free", "starter", "creator", "pro", "scale", "business"] = "creator"
    minimax_api_key: SecretStr | None = None
    minimax_base_url: str = "https://api.minimax.io"
    minimax_output_format: Literal["hex", "url"] = "hex"
    # Hosts a MiniMax audio URL may point at (exact, or a suffix starting with a dot).
    minimax_audio_hosts: list[str] = [
        ".minimax.io",
        ".minimaxi.com",
        ".minimax.chat",
        ".minimaxi.chat",
    ]
    elevenlabs_music_provider: Literal["auto", "live", "offline"] = "auto"
    minimax_music_provider: Literal["auto", "live", "offline"] = "auto"
    minimax_music_pro_provider: Literal["auto", "live", "offline"] = "auto"

    provider_connect_timeout_s: float = 10.0
    # Generations take minutes: a read may legitimately wait this long for the first byte.
    provider_read_timeout_s: float = 600.0
    # A whole provider call (including a slow body) never takes longer than this.
    provider_total_timeout_s: float = 900.0
    provider_max_attempts: int = Field(default=3, ge=1, le=10)
    provider_retry_initial_s: float = 1.0
    provider_retry_max_s: float = 30.0
    # Concurrent provider calls across every worker process (plan limits).
    elevenlabs_concurrency: int = Field(default=2, ge=1)
    minimax_concurrency: int = Field(default=20, ge=1)
    # Extra CA bundle for provider TLS (a corporate proxy, or the test fakes).
    provider_ca_bundle: str | None = None

    # Downloads of provider audio URLs.
    download_max_bytes: int = 64 * 1024 * 1024
    download_timeout_s: float = 120.0
    # host → IP answers used instead of DNS (like curl --resolve): for tests and pinned setups.
    download_resolve: dict[str, str] = {}
    # Networks exempt from the private-address refusal (CIDRs); empty in production.
    download_allow_networks: list[str] = []

    # Webhooks: retries back off from this base over about a day (base 10 s: 10 s … 12 h).
    webhook_retry_base_s: float = 10.0
    # Plain http targets and private networks are refused unless allowed here (tests only).
    webhook_allow_http: bool = False
    webhook_allow_networks: list[str] = []

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
    def effective_public_base_url(self) -> str:
        """Where this gateway is reached from outside: every URL the API and the CLI hand out."""
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def effective_api_threads(self) -> int:
        """API_THREADS, or by default 4 with the local store and 16 with a remote one.

        The threads share one GIL with the event loop, and every one that is running Python
        is one more the loop (each /healthz, each waiter's wake-up) may queue behind. With the
        local store every step is CPU or a quick database round trip, so a few threads keep the
        process busy and the loop answers sooner, at no clear cost in throughput (measured:
        bench/results.md). A remote store's reads wait on the network without the GIL, and
        need more threads to overlap.
        """
        if self.api_threads is not None:
            return self.api_threads
        return 4 if self.storage_backend == "local" else 16

    @property
    def broker_url(self) -> str:
        # The in-memory transport ignores the host, but kombu warns at start-up when none is
        # given ("No hostname was supplied"): name one.
        return self.redis_url or "memory://localhost/"

    @property
    def visibility_timeout_s(self) -> int:
        # Redis redelivers unacked messages after this; it must outlast the longest job twice over.
        return 2 * self.job_max_runtime_s + 60


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return Settings()
