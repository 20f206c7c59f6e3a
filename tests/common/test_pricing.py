from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.pricing import (
    SKUS,
    billed_duration_ms,
    format_seconds,
    format_usd,
    price_micro_usd,
    usd_to_micro,
)


@pytest.mark.parametrize(
    ("sku", "length_ms", "usd"),
    [
        ("elevenlabs-music", 30_000, "4.05"),
        ("elevenlabs-music", 300_000, "40.5"),
        ("elevenlabs-music", 1_000, "0.135"),
        ("elevenlabs-music", 1_001, "0.135135"),
        ("minimax-music", 30_000, "0.045"),
        ("minimax-music", 1_000, "0.045"),
        ("minimax-music-pro", 300_000, "0.21"),
    ],
)
def test_price_table(sku: str, length_ms: int, usd: str) -> None:
    assert format_usd(price_micro_usd(SKUS[sku], music_length_ms=length_ms)) == usd


@given(st.integers(min_value=1000, max_value=300_000))
def test_elevenlabs_price_is_exact_per_millisecond(length_ms: int) -> None:
    micro = price_micro_usd(SKUS["elevenlabs-music"], music_length_ms=length_ms)
    assert Decimal(format_usd(micro)) == Decimal(length_ms) * Decimal("0.000135")


@given(st.integers(min_value=1000, max_value=300_000))
def test_minimax_price_is_flat(length_ms: int) -> None:
    assert price_micro_usd(SKUS["minimax-music"], music_length_ms=length_ms) == 45_000
    assert price_micro_usd(SKUS["minimax-music-pro"], music_length_ms=length_ms) == 210_000


@given(st.integers(min_value=0, max_value=10**15))
def test_usd_strings_are_plain_and_round_trip(micro: int) -> None:
    text = format_usd(micro)
    assert "e" not in text.lower() and not text.endswith(".")
    assert usd_to_micro(text) == micro


@pytest.mark.parametrize(
    ("ms", "text"), [(30_000, "30"), (31_500, "31.5"), (25_364, "25.364"), (1_000, "1"), (0, "0")]
)
def test_format_seconds(ms: int, text: str) -> None:
    assert format_seconds(ms) == text


def test_sub_micro_amounts_are_refused() -> None:
    with pytest.raises(ValueError):
        usd_to_micro("0.0000001")


def test_per_second_skus_bill_what_was_asked_flat_ones_report_what_was_delivered() -> None:
    assert (
        billed_duration_ms(SKUS["elevenlabs-music"], requested_ms=30_000, delivered_ms=29_990)
        == 30_000
    )
    assert (
        billed_duration_ms(SKUS["minimax-music"], requested_ms=30_000, delivered_ms=61_250)
        == 61_250
    )
