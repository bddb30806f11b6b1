"""Hypothesis strategies for hostile input to the harness's own servers: request paths built from
the API's words and from junk, bodies of any bytes or any JSON."""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import strategies as st

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
BODIES = st.one_of(st.binary(max_size=300), JSON.map(lambda value: json.dumps(value).encode()))
METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])


def paths(words: list[str]) -> st.SearchStrategy[str]:
    junk = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=16)
    segment = st.one_of(st.sampled_from(words), junk)
    return st.lists(segment, max_size=5).map(
        lambda parts: "/" + "/".join(quote(part, safe="") for part in parts)
    )
