"""What every `musicgw` command shares: the command group, the database session, and how
answers are printed (JSON for scripts, a table on a terminal)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import click

from common.config import get_settings
from common.db import create_db_engine, create_session_factory
from common.errors import AppError
from common.pricing import usd_to_micro


def _sessions():  # type: ignore[no-untyped-def]
    return create_session_factory(create_db_engine(get_settings()))


# Printed under --help of every command that prints a URL of the gateway.
URL_BASE_HELP = (
    "URLs start with PUBLIC_BASE_URL if set, else http://HOST:PORT (from the environment or "
    ".env), the same base the server uses in the links it hands out."
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="JSON even on a terminal (piped, it always is)."
)


def _emit(
    payload: dict[str, Any],
    *,
    as_json: bool = True,
    human: Callable[[dict[str, Any]], str] | None = None,
) -> None:
    """JSON for scripts; on a terminal, the `human` rendering when there is one."""
    if human is not None and not as_json and sys.stdout.isatty():
        click.echo(human(payload))
        return
    click.echo(json.dumps(payload, indent=None if not sys.stdout.isatty() else 2))


def _table(rows: Iterable[Sequence[object]], *, header: Sequence[str] = (), right: int = 0) -> str:
    """Columns padded to their widest cell; the last `right` columns aligned right (amounts)."""
    cells = ([list(header)] if header else []) + [[str(c) for c in row] for row in rows]
    columns = len(cells[0])
    widths = [max(len(row[i]) for row in cells) for i in range(columns)]
    first_right = columns - right
    return "\n".join(
        "  ".join(
            cell.rjust(width) if i >= first_right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in cells
    )


def _usd(amount: str) -> str:
    return f"-${amount[1:]}" if amount.startswith("-") else f"${amount}"


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def _micro(amount: str, *, allow_zero: bool) -> int:
    try:
        micro = usd_to_micro(amount)
    except ValueError as exc:
        raise click.BadParameter(f"{exc}; give an amount in dollars, such as 12.50") from exc
    if micro < 0 or (micro == 0 and not allow_zero):
        raise click.BadParameter(f"{amount} must be {'≥' if allow_zero else '>'} 0")
    return micro


@click.group()
def main() -> None:
    """Operate the music gateway."""


def run() -> None:
    try:
        main(standalone_mode=True)
    except AppError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
