"""Hypothesis strategies for hostile input: nasty text, any JSON value, header values."""

from __future__ import annotations

import base64

from hypothesis import strategies as st

NASTY_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "\u202e",
            "\ud7ff",
            "💥" * 10,
            "' OR 1=1 --",
            "<script>alert(1)</script>",
            "../../etc/passwd",
            "%00",
            "%",
            "\r\nSet-Cookie: x=1",
            "x" * 5000,
            "9" * 400,
            "-1",
            "1e309",
            "NaN",
            "null",
            "[]",
            "{}",
        ]
    ),
)
JSON_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    NASTY_TEXT,
)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(NASTY_TEXT, children, max_size=4),
    ),
    max_leaves=12,
)
# Header values as a WSGI server would hand them over: latin-1 text.
LATIN1_TEXT = st.text(alphabet=st.characters(codec="latin-1"), max_size=60)


def basic_header(user: str, password: str) -> str:
    raw = f"{user}:{password}".encode("utf-8", "surrogatepass")
    return "Basic " + base64.b64encode(raw).decode()


def auth_headers(client_id: str | None = None) -> st.SearchStrategy[str | None]:
    """Random Authorization headers: none, garbage, broken Basic, Basic with real-looking ids."""
    ids = st.one_of(NASTY_TEXT, st.just(client_id)) if client_id else NASTY_TEXT
    return st.one_of(
        st.none(),
        LATIN1_TEXT,
        st.builds(lambda s: "Basic " + s, LATIN1_TEXT),
        st.builds(lambda s: "Bearer " + s, LATIN1_TEXT),
        st.builds(basic_header, ids, NASTY_TEXT),
        st.sampled_from(["Basic", "Basic ", "Basic ====", "Basic Og==", "Basic AA==", "Digest x"]),
    )
