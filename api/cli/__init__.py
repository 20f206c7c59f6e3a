"""`musicgw`: the operator's command line (accounts, keys, migrations, and the processes).

Commands print JSON, one object, for scripts; `accounts list`, `accounts show` and `status`
print a table instead when stdout is a terminal (`--json` asks for JSON there too). Every URL
printed starts with the base the server hands out (Settings.effective_public_base_url).
"""

from api.cli import accounts, operations, processes  # noqa: F401 (they register commands)
from api.cli.base import main, run

__all__ = ["main", "run"]
