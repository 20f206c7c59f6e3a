import json
import sys
import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.errors import AppError
from common.validation import decode_json_body, nfc_length, parse_music_request

DECOMPOSED_E = "e\u0301"  # e + combining acute: one character after NFC


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ([], "invalid_request", None),
        ("x", "invalid_request", None),
        ({"model": "gpt-4o", "prompt": "x"}, "not_a_music_model", "model"),
        ({"model": "ElevenLabs-Music", "prompt": "x"}, "not_a_music_model", "model"),
        ({"model": 3, "prompt": "x"}, "invalid_request", "model"),
        ({"prompt": 5}, "invalid_request", "prompt"),
        ({}, "invalid_request", "prompt"),
        ({"prompt": "   "}, "invalid_request", "prompt"),
        ({"model": "minimax-music"}, "invalid_request", "prompt"),
        ({"model": "minimax-music", "prompt": " ", "lyrics": "\n"}, "invalid_request", "prompt"),
        ({"model": "minimax-music", "lyrics": ["a"]}, "invalid_request", "lyrics"),
        ({"prompt": "x", "music_length_ms": 999}, "invalid_duration", "music_length_ms"),
        ({"prompt": "x", "music_length_ms": 300_001}, "invalid_duration", "music_length_ms"),
        ({"prompt": "x", "music_length_ms": 30000.5}, "invalid_duration", "music_length_ms"),
        ({"prompt": "x", "music_length_ms": "30000"}, "invalid_duration", "music_length_ms"),
        ({"prompt": "x", "music_length_ms": True}, "invalid_duration", "music_length_ms"),
        ({"prompt": "x", "duration_ms": 500}, "invalid_duration", "duration_ms"),
        (
            {"prompt": "x", "duration_ms": 2000, "music_length_ms": 3000},
            "invalid_duration",
            "duration_ms",
        ),
        ({"prompt": "x", "response_format": "wav"}, "invalid_response_format", "response_format"),
        ({"prompt": "x", "response_format": 1}, "invalid_request", "response_format"),
        ({"prompt": "x" * 2001}, "prompt_too_long", "prompt"),
        ({"model": "minimax-music", "prompt": "x" * 201}, "prompt_too_long", "prompt"),
        ({"model": "minimax-music-pro", "lyrics": "x" * 601}, "lyrics_too_long", "lyrics"),
    ],
)
def test_rejections(body: Any, code: str, param: str | None) -> None:
    with pytest.raises(AppError) as info:
        parse_music_request(body)
    assert info.value.code == code
    assert info.value.param == param


def test_defaults() -> None:
    request = parse_music_request({"prompt": "jazz"})
    assert request.sku.id == "elevenlabs-music"
    assert request.music_length_ms == 30_000
    assert request.response_format == "mp3_44100_128"


def test_duration_alias_and_agreeing_pair() -> None:
    assert parse_music_request({"prompt": "x", "duration_ms": 5000}).music_length_ms == 5000
    both = {"prompt": "x", "duration_ms": 5000, "music_length_ms": 5000}
    assert parse_music_request(both).music_length_ms == 5000


def test_elevenlabs_ignores_lyrics_entirely() -> None:
    request = parse_music_request({"prompt": "x", "lyrics": {"not": "a string"}})
    assert request.lyrics is None
    assert parse_music_request({"prompt": "x", "lyrics": "y" * 10_000}).lyrics is None


def test_minimax_range_checks_length_it_ignores() -> None:
    with pytest.raises(AppError) as info:
        parse_music_request({"model": "minimax-music", "prompt": "x", "music_length_ms": 10})
    assert info.value.code == "invalid_duration"


def test_unknown_fields_are_ignored() -> None:
    assert parse_music_request({"prompt": "x", "temperature": 2}).prompt == "x"


def test_limit_message_names_sku_field_limit_and_count() -> None:
    with pytest.raises(AppError) as info:
        parse_music_request({"model": "minimax-music", "prompt": "a" * 245})
    error = info.value
    assert error.message == (
        "prompt is 245 characters after NFC normalisation; minimax-music allows at most 200"
    )
    assert (error.sku, error.param, error.extra) == (
        "minimax-music",
        "prompt",
        {"limit": 200, "length": 245},
    )


@pytest.mark.parametrize("count", [200, 201])
def test_nfc_boundary_with_decomposed_letters(count: int) -> None:
    prompt = DECOMPOSED_E * count  # 2 × count code points before NFC
    body = {"model": "minimax-music", "prompt": prompt}
    if count == 200:
        assert parse_music_request(body).prompt == prompt
    else:
        with pytest.raises(AppError) as info:
            parse_music_request(body)
        assert info.value.code == "prompt_too_long"
        assert "201 characters" in info.value.message


def test_precomposed_vietnamese_counts_once() -> None:
    assert nfc_length("Việt") == 4
    assert nfc_length(unicodedata.normalize("NFD", "Việt")) == 4


@given(st.text(max_size=300))
def test_nfc_length_is_invariant_under_normalisation_form(text: str) -> None:
    nfd = unicodedata.normalize("NFD", text)
    assert nfc_length(nfd) == nfc_length(text) == len(unicodedata.normalize("NFC", text))


@given(
    st.text(alphabet=st.characters(exclude_characters="\x00"), min_size=1, max_size=260).filter(
        lambda t: t.strip()
    )
)
def test_minimax_prompt_limit_follows_nfc_count(prompt: str) -> None:
    body = {"model": "minimax-music", "prompt": unicodedata.normalize("NFD", prompt)}
    if nfc_length(prompt) <= 200:
        parse_music_request(body)
    else:
        with pytest.raises(AppError) as info:
            parse_music_request(body)
        assert info.value.code == "prompt_too_long"


@pytest.mark.parametrize("field", ["prompt", "lyrics", "webhook_url"])
def test_nul_characters_are_refused(field: str) -> None:
    body = {"model": "minimax-music", "prompt": "x", field: "a\u0000b"}
    with pytest.raises(AppError) as info:
        parse_music_request(body)
    assert (info.value.code, info.value.param) == ("invalid_request", field)


# What a careless or hostile client sends: any text (lone surrogates included, as JSON escapes),
# integers of any length, floats with exponents, and containers nested to any depth.
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**5000), max_value=10**5000)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF))
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@given(st.binary(max_size=200))
def test_the_body_parser_answers_any_bytes_with_a_value_or_a_400(raw: bytes) -> None:
    _decode_or_400(raw)


@given(_values, st.integers(min_value=0, max_value=1100))
def test_the_body_parser_answers_any_json_with_a_value_or_a_400(value: Any, depth: int) -> None:
    sys.set_int_max_str_digits(0)  # so that json.dumps can write the long integers
    try:
        text = json.dumps(value, ensure_ascii=True)
    finally:
        sys.set_int_max_str_digits(4300)
    for raw in (text, "[" * depth + text + "]" * depth, '{"prompt": ' + text + "}"):
        body = _decode_or_400(raw.encode())
        if body is not None:
            # Whatever is accepted is text the database and the providers can take.
            json.dumps(body, ensure_ascii=False).encode("utf-8")


def _decode_or_400(raw: bytes) -> Any:
    try:
        return decode_json_body(raw)
    except AppError as exc:
        assert exc.status == 400 and exc.code == "invalid_request"
        return None


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b'{"prompt": "\\ud800"}', "prompt"),
        (b'{"model": "minimax-music", "lyrics": "la \\udfff"}', "lyrics"),
        (b'{"prompt": "x", "webhook_url": "https://a\\ud800.example/"}', "webhook_url"),
        (b'{"prompt": "x", "extra": {"deep": ["\\ud800"]}}', "extra.deep[0]"),
        (b'{"prompt": "x", "music_length_ms": 1' + b"0" * 4400 + b"}", "music_length_ms"),
        (b"[" * 2000 + b"]" * 2000, None),
        (b'{"prompt": "x", "n": NaN}', None),
        (b'{"prompt": "x", "n": -Infinity}', None),
    ],
)
def test_bodies_that_used_to_be_a_500_are_a_400_naming_the_field(
    raw: bytes, param: str | None
) -> None:
    with pytest.raises(AppError) as caught:
        decode_json_body(raw)
    assert (caught.value.status, caught.value.code) == (400, "invalid_request")
    assert caught.value.to_body()["error"].get("param") == param


@pytest.mark.parametrize(
    "url",
    ["https://[::1/", "https://[zz]/", "https://example.com:99999/", "https://example.com:x/"],
)
def test_a_malformed_webhook_url_is_a_400_naming_it(url: str) -> None:
    with pytest.raises(AppError) as caught:
        parse_music_request({"prompt": "x", "webhook_url": url})
    assert caught.value.to_body()["error"]["param"] == "webhook_url"
