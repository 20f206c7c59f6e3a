"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS): bodies a careless or hostile client
sends besides what the schema describes. Each generated JSON object body is sent as it is, or
with a lone UTF-16 surrogate spliced into one of its strings, with an integer of thousands of
digits in one of its fields, or with a field nested far deeper than any request needs. These are
the inputs that once answered 500 and reset the connection; the fuzzer must find such a class
by itself, not only the plain regression tests that pin each one down.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import schemathesis
from hypothesis import strategies as st

# json.dumps refuses to write integers of over 4,300 digits unless the limit is lifted.
sys.set_int_max_str_digits(0)

LONE_SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
HUGE_INTEGERS = st.integers(min_value=4301, max_value=6000).map(lambda digits: 10**digits - 1)
# Deeper than Python's recursion limit lets json.loads go; written as bytes, since json.dumps
# cannot write it either.
DEEP = st.integers(min_value=1100, max_value=2500)


def _with_surrogate(body: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    strings = [name for name, value in body.items() if isinstance(value, str)] or ["prompt"]
    return st.tuples(st.sampled_from(strings), LONE_SURROGATES, st.booleans()).map(
        lambda drawn: (
            body | {drawn[0]: (str(body.get(drawn[0], "")) + drawn[1]) if drawn[2] else drawn[1]}
        )
    )


def _with_huge_integer(body: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    names = sorted(body) + ["music_length_ms", "extra"]
    return st.tuples(st.sampled_from(names), HUGE_INTEGERS, st.booleans()).map(
        lambda drawn: body | {drawn[0]: -drawn[1] if drawn[2] else drawn[1]}
    )


def _with_deep_nesting(body: dict[str, Any]) -> st.SearchStrategy[bytes]:
    def render(depth: int) -> bytes:
        nested = "[" * depth + "]" * depth
        opened = json.dumps(body)[:-1]
        return f'{opened}{", " if body else ""}"deep": {nested}}}'.encode()

    return DEEP.map(render)


@schemathesis.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    if not isinstance(body, dict):
        return st.just(body)
    return st.one_of(
        st.just(body),
        st.just(body),
        _with_surrogate(body),
        _with_huge_integer(body),
        _with_deep_nesting(body),
    )
