"""The offline provider: a deterministic synthesiser that needs no network or credentials."""
