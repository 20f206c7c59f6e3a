"""The error tree. One handler in the API renders every AppError as the public envelope.

    AppError(code, message, status)
    ├── InvalidRequestError ........ 400 invalid_request
    │   ├── NotAMusicModelError .... 400 not_a_music_model
    │   ├── PromptTooLongError ..... 400 prompt_too_long
    │   ├── LyricsTooLongError ..... 400 lyrics_too_long
    │   ├── InvalidDurationError ... 400 invalid_duration
    │   └── InvalidFormatError ..... 400 invalid_response_format
    ├── AuthError .................. 401 auth_error
    ├── BillingError ............... 402 billing_error
    ├── NotFoundError .............. 404 not_found
    ├── RequestTooLargeError ....... 413 request_too_large
    ├── JobNotReadyError ........... 409 job_not_ready    (audio asked for before it exists)
    ├── JobNotSavedError ........... 409 not_saved        (sharing a track that is not saved)
    ├── NotCancellableError ........ 409 not_cancellable  (the job is already running or done)
    ├── IdempotencyConflictError ... 409 idempotency_conflict (a key reused for another request)
    ├── RateLimitedError ........... 429 rate_limited     (too many requests or jobs in flight)
    ├── CsrfError .................. 403 csrf_failed      (a browser form without its token)
    ├── AudioGoneError ............. 410 audio_expired    (past its retention period)
    ├── ProviderError .............. 502 provider_error   (a job failed or expired upstream)
    ├── StorageFailedError ......... 502 storage_error    (the track could not be stored)
    └── ServiceUnavailableError .... 503 service_unavailable (a dependency is down; retry)

Provider clients raise their own two kinds (common.providers.base); the worker turns them into
a failed job, and the API turns a failed job into ProviderError.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    code = "api_error"
    status = 500
    type = "api_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        sku: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.sku = sku
        self.extra = extra or {}
        self.headers = headers or {}

    def to_body(self) -> dict[str, Any]:
        """The public envelope: {"error": {code, message, type, param?, sku?, ...}}."""
        error: dict[str, Any] = {"code": self.code, "message": self.message, "type": self.type}
        if self.param is not None:
            error["param"] = self.param
        if self.sku is not None:
            error["sku"] = self.sku
        error.update(self.extra)
        return {"error": error}


class InvalidRequestError(AppError):
    code = "invalid_request"
    status = 400
    type = "invalid_request_error"


class NotAMusicModelError(InvalidRequestError):
    code = "not_a_music_model"


class PromptTooLongError(InvalidRequestError):
    code = "prompt_too_long"


class LyricsTooLongError(InvalidRequestError):
    code = "lyrics_too_long"


class InvalidDurationError(InvalidRequestError):
    code = "invalid_duration"


class InvalidFormatError(InvalidRequestError):
    code = "invalid_response_format"


class AuthError(AppError):
    code = "auth_error"
    status = 401
    type = "authentication_error"


class BillingError(AppError):
    code = "billing_error"
    status = 402
    type = "billing_error"


class NotFoundError(AppError):
    code = "not_found"
    status = 404
    type = "not_found_error"


class RequestTooLargeError(AppError):
    code = "request_too_large"
    status = 413
    type = "invalid_request_error"


class ProviderError(AppError):
    code = "provider_error"
    status = 502
    type = "provider_error"


class JobNotReadyError(AppError):
    code = "job_not_ready"
    status = 409
    type = "invalid_request_error"


class JobNotSavedError(AppError):
    code = "not_saved"
    status = 409
    type = "invalid_request_error"


class IdempotencyConflictError(AppError):
    code = "idempotency_conflict"
    status = 409
    type = "invalid_request_error"


class RateLimitedError(AppError):
    code = "rate_limited"
    status = 429
    type = "rate_limit_error"


class NotCancellableError(AppError):
    code = "not_cancellable"
    status = 409
    type = "invalid_request_error"


class CsrfError(AppError):
    code = "csrf_failed"
    status = 403
    type = "invalid_request_error"


class StorageFailedError(AppError):
    code = "storage_error"
    status = 502
    type = "storage_error"


class AudioGoneError(AppError):
    code = "audio_expired"
    status = 410
    type = "invalid_request_error"


class ServiceUnavailableError(AppError):
    code = "service_unavailable"
    status = 503
    type = "api_error"


class HttpError(AppError):
    """A framework-level HTTP error (wrong method, …) rendered in the public envelope."""

    code = "http_error"
    type = "invalid_request_error"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status
