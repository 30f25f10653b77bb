"""The stray-quote pre-check: a line with an odd number of quotes is found whatever the chunk borders."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders.quotes import has_odd_quote_line


def reference(data: bytes) -> bool:
    return any(line.count(b'"') % 2 for line in data.split(b"\n"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b'"', b"\n", b"a", b",", b"\xe5\x8f\x91"]), max_size=60), st.integers(1, 9))
def test_matches_counting_quotes_per_line(tmp_path_factory: pytest.TempPathFactory, parts: list[bytes],
                                          chunk: int) -> None:
    data = b"".join(parts)
    path = tmp_path_factory.mktemp("q") / "f.csv"
    path.write_bytes(data)
    assert has_odd_quote_line(path, chunk) == reference(data)


def test_examples(tmp_path: Path) -> None:
    cases = {b'a,"b,c"\nd,e\n': False, b'a,"b\nc",d\n': True, b'a,b\n"x': True, b'"a""b"\n""\n': False, b"": False}
    for i, (data, odd) in enumerate(cases.items()):
        path = tmp_path / f"{i}.csv"
        path.write_bytes(data)
        for chunk in (1, 2, 3, 1 << 20):
            assert has_odd_quote_line(path, chunk) is odd, (data, chunk)
