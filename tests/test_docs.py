"""The docs stay true to the code: every setting documented once, the README a front door."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices

from common.config import Settings

ROOT = Path(__file__).resolve().parents[1]
# Upper-case names in backticks or at the start of a `.env.example` line: what the docs call a
# setting. Names that are not settings but look like them are listed here.
NOT_SETTINGS = {"CHROMIUM_PATH", "TEST_POSTGRES_URL", "TEST_REDIS_URL", "LOG_LEVEL=DEBUG"}


def setting_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
        else:
            names.add((alias if isinstance(alias, str) else name).upper())
    return names


def documented_in_settings_page() -> set[str]:
    text = (ROOT / "docs" / "settings.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    first_cells = [row.split("|")[1] for row in rows]
    return {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}


def documented_in_env_example() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def test_the_settings_page_names_every_setting_and_nothing_else() -> None:
    documented = documented_in_settings_page()
    assert setting_names() - documented == set(), "settings missing from docs/settings.md"
    assert documented - setting_names() == set(), "docs/settings.md names unknown settings"


def test_env_example_names_every_setting_and_nothing_else() -> None:
    documented = documented_in_env_example()
    assert setting_names() - documented == set(), "settings missing from .env.example"
    assert documented - setting_names() == set(), ".env.example names unknown settings"


def test_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_bytes()
    assert len(readme) < 12 * 1024
    for link in re.findall(r"\]\(((?:docs|bench)/[^)#]+)", readme.decode()):
        assert (ROOT / link).exists(), link
