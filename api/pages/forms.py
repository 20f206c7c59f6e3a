"""Browser form handling: urlencoded bodies and CSRF tokens."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from starlette.requests import Request

from common.errors import CsrfError

SESSION_COOKIE = "musicgw_session"
LOGIN_CSRF_COOKIE = "musicgw_login_csrf"


async def read_form(request: Request) -> dict[str, str]:
    """The first value of each field of an urlencoded form (the body cap applies)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}


def check_csrf(expected: str | None, form: dict[str, str]) -> None:
    """Refuse a state change whose form does not carry the token it was rendered with."""
    given = form.get("csrf_token", "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfError("This form has expired or did not come from this site; reload the page.")
