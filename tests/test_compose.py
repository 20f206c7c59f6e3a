"""No Docker engine runs here: check the compose file against the project instead."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from api.cli import main
from common.config import Settings

ROOT = Path(__file__).resolve().parent.parent
PROJECT_IMAGE = "musicgw:latest"
THIRD_PARTY_IMAGES = {"postgres", "redis", "minio/minio", "minio/mc"}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_images() -> None:
    services = compose()["services"]
    assert {"api", "worker", "beat", "migrate", "postgres", "redis", "minio"} <= set(services)
    for name, service in services.items():
        image = service["image"]
        if "build" in service:
            assert image == PROJECT_IMAGE and service["build"] == "."
        else:
            assert image.split(":")[0] in THIRD_PARTY_IMAGES, name
    assert (ROOT / "Dockerfile").is_file()


def test_project_commands_exist() -> None:
    runner = CliRunner()
    for name, service in compose()["services"].items():
        if service.get("image") != PROJECT_IMAGE:
            continue
        program, *args = service["command"]
        assert program == "musicgw", name
        words = list(itertools.takewhile(lambda w: not w.startswith("-"), args))
        result = runner.invoke(main, [*words, "--help"])
        assert result.exit_code == 0, (name, result.output)
        for option in (a for a in args if a.startswith("--")):
            assert option in result.output, (name, option)


def test_environment_names_real_settings() -> None:
    known = {name.upper() for name in Settings.model_fields} | {"BLOB_READ_WRITE_TOKEN"}
    for name, service in compose()["services"].items():
        if service.get("image") != PROJECT_IMAGE:
            continue
        for variable in service["environment"]:
            assert variable in known, (name, variable)
    for line in (ROOT / ".env.example").read_text().splitlines():
        if match := re.match(r"#?\s*([A-Z][A-Z0-9_]+)=", line):
            assert match.group(1) in known, match.group(1)


def test_migrations_run_once_before_the_app() -> None:
    services = compose()["services"]
    for name in ("api", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    assert services["migrate"]["command"] == ["musicgw", "db", "upgrade"]
