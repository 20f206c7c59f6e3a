"""Money: deposits, holds, captures and releases, in integer micro-dollars."""
