"""The OpenAPI document (what /docs and /redoc show) on the embedded default, built in-process:
valid, with the bearer scheme, the X-Kyma-* headers, the real error fields, an example for
every operation, and no 422 (validation failures are 400 in the error envelope)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from api.main import create_app
from api.openapi import ERROR_EXAMPLES, KYMA_HEADERS
from api.responses import JOB_ID_HEADER, job_failure
from common.config import Settings
from common.models import Job

Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("openapi"),
        database_url="",
        redis_url="",
    )
    return create_app(settings)


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_v1_operation_declares_the_bearer_scheme(document: dict[str, Any]) -> None:
    (name, scheme), *others = document["components"]["securitySchemes"].items()
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer" and not others
    v1 = [op for op in operations(document) if op[1].startswith("/v1/")]
    assert len(v1) >= 8
    for method, path, operation in v1:
        assert operation.get("security") == [{name: []}], (method, path)
        assert "401" in operation["responses"], (method, path)
    assert "security" not in document["paths"]["/healthz"]["get"]


def test_no_operation_declares_422(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        assert "422" not in operation["responses"], (method, path)
    assert "ValidationError" not in json.dumps(document)


def test_the_music_request_body_has_webhook_url_and_examples(document: dict[str, Any]) -> None:
    body = document["paths"]["/v1/audio/music"]["post"]["requestBody"]["content"]
    media = body["application/json"]
    fields = {"model", "prompt", "lyrics", "music_length_ms", "duration_ms", "response_format"}
    assert fields | {"webhook_url"} <= set(media["schema"]["properties"])
    assert len(media["examples"]) >= 2


def test_every_operation_has_an_example(document: dict[str, Any]) -> None:
    components = document["components"]
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            assert "example" in parameter, (method, path, parameter["name"])
        answered = [
            code
            for code, response in operation["responses"].items()
            if any(_examples(media, components) for media in response.get("content", {}).values())
        ]
        success = [code for code in operation["responses"] if code.startswith("2")]
        # Audio bytes and 204 have no example to show; every JSON answer does.
        assert answered, (method, path)
        for code in success:
            for content_type, media in operation["responses"][code].get("content", {}).items():
                if media["schema"].get("format") != "binary":
                    assert _examples(media, components), (method, path, code, content_type)


def test_every_example_matches_its_schema(document: dict[str, Any]) -> None:
    checked = 0
    for *_, operation in operations(document):
        medias = [m for r in operation["responses"].values() for m in r.get("content", {}).values()]
        if "requestBody" in operation:
            medias += operation["requestBody"]["content"].values()
        for media in medias:
            for example in _examples(media, document["components"]):
                _validator(media["schema"], document).validate(example)
                checked += 1
        headers = [
            header
            for response in operation["responses"].values()
            for header in response.get("headers", {}).values()
        ]
        for item in [*operation.get("parameters", []), *headers]:
            if "example" in item:
                _validator(item["schema"], document).validate(item["example"])
                checked += 1
    assert checked > 50


def test_the_music_answers_declare_the_kyma_headers(document: dict[str, Any]) -> None:
    responses = document["paths"]["/v1/audio/music"]["post"]["responses"]
    kyma = {"X-Kyma-Model", "X-Kyma-Duration-Sec", "X-Kyma-Cost-USD", "X-Kyma-Balance-USD"}
    assert set(KYMA_HEADERS) == kyma | {JOB_ID_HEADER}
    for name in kyma | {JOB_ID_HEADER}:
        assert responses["200"]["headers"][name]["required"] is True, name
    assert {JOB_ID_HEADER, "Location"} <= set(responses["202"]["headers"])
    # After acceptance every answer names its job (the spec's "Jobs outlive the connection").
    assert responses["502"]["headers"][JOB_ID_HEADER]["required"] is True
    assert JOB_ID_HEADER in responses["503"]["headers"]
    assert responses["429"]["headers"]["Retry-After"]["required"] is True
    audio = document["paths"]["/v1/jobs/{job_id}/audio"]["get"]["responses"]["200"]
    assert kyma <= set(audio["headers"])
    assert (
        JOB_ID_HEADER
        in document["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]["200"]["headers"]
    )


def test_the_error_schema_has_every_field_real_errors_carry(document: dict[str, Any]) -> None:
    detail = document["components"]["schemas"]["ErrorDetail"]
    fields = set(detail["properties"])
    assert {"code", "message", "type"} <= set(detail["required"])
    assert {"param", "sku", "limit", "length", "status", "job_id"} <= fields
    assert {"provider_code", "suggestion"} <= fields
    failed = Job(
        id="job_1",
        model="minimax-music",
        error_code="provider_error",
        error_message="MiniMax: input new_sensitive (1026)",
        provider_code="1026",
        error_suggestion="Rephrase the lyrics.",
    )
    bodies = [e.to_body() for e in ERROR_EXAMPLES.values()] + [job_failure(failed).to_body()]
    # Strict: a field a real error carries that the schema does not declare fails here.
    strict = _validator({"$ref": "#/components/schemas/ErrorEnvelope"}, document, forbid_extra=True)
    for body in bodies:
        strict.validate(body)
    carried = {key for body in bodies for key in body["error"]}
    assert carried == fields


def test_every_v1_operation_documents_its_errors(document: dict[str, Any]) -> None:
    expected = {
        ("POST", "/v1/audio/music"): {"400", "401", "402", "409", "413", "429", "502", "503"},
        ("GET", "/v1/jobs/{job_id}"): {"401", "404", "429", "503"},
        ("GET", "/v1/jobs/{job_id}/audio"): {"401", "404", "409", "410", "429", "503"},
        ("GET", "/v1/jobs/{job_id}/events"): {"401", "404", "429", "503"},
        ("POST", "/v1/jobs/{job_id}/cancel"): {"401", "404", "409", "429", "503"},
        ("POST", "/v1/jobs/{job_id}/share"): {"401", "404", "409", "429", "503"},
        ("DELETE", "/v1/jobs/{job_id}/share"): {"401", "404", "429", "503"},
        ("GET", "/v1/gallery"): {"400", "401", "429", "503"},
        ("DELETE", "/v1/gallery/{job_id}"): {"401", "404", "429", "503"},
    }
    found = {
        (method, path): {code for code in operation["responses"] if code[0] in "45"}
        for method, path, operation in operations(document)
    }
    for key, statuses in expected.items():
        assert found[key] == statuses, key
    music = document["paths"]["/v1/audio/music"]["post"]["responses"]
    codes = {
        e["value"]["error"]["code"]
        for e in music["400"]["content"]["application/json"]["examples"].values()
    }
    assert codes == {
        "invalid_request",
        "not_a_music_model",
        "prompt_too_long",
        "lyrics_too_long",
        "invalid_duration",
        "invalid_response_format",
    }


def _examples(media: dict[str, Any], components: dict[str, Any]) -> list[Any]:
    """A media type's examples: its own, else those of its schema (followed through $ref)."""
    if "example" in media:
        return [media["example"]]
    if "examples" in media:
        return [e["value"] for e in media["examples"].values()]
    schema = media.get("schema", {})
    if "$ref" in schema:
        schema = components["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return list(schema.get("examples", []))


def _validator(
    schema: dict[str, Any], document: dict[str, Any], *, forbid_extra: bool = False
) -> Draft202012Validator:
    components = document["components"]
    if forbid_extra:
        components = json.loads(json.dumps(components))
        for name in ("ErrorEnvelope", "ErrorDetail"):
            components["schemas"][name]["additionalProperties"] = False
    # The schema's $refs point into the document: resolve them against its components.
    return Draft202012Validator(schema | {"components": components})


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_their_assets_from_the_app(app: FastAPI, page: str) -> None:
    async def fetch(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get(path)

    html = asyncio.run(fetch(page))
    assert html.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
    assert assets and "https://" not in html.text and "//cdn" not in html.text
    for asset in assets:
        assert asset.startswith("/"), asset
        served = asyncio.run(fetch(asset))
        assert served.status_code == 200 and len(served.content) > 1000, asset
