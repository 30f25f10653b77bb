"""The stray-quote pre-check: a line with an odd number of quotes is found whatever the chunk borders."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders.quotes import has_odd_quote_line
from loaders.utf8scan import scan_text


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


def reference_utf8(data: bytes) -> tuple[bool, int]:
    try:
        data.decode("utf-8")
        ok = True
    except UnicodeDecodeError:
        ok = False
    lines = data.split(b"\n")
    longest = max([len(x) + 1 for x in lines[:-1]] + [len(lines[-1])])
    return ok, longest


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b'"', b"\n", b"a", b",", b"\xe5\x8f\x91", b"\xe5", b"\xff"]), max_size=60),
       st.integers(1, 9))
def test_one_pass_scan_matches_both_checks(tmp_path_factory: pytest.TempPathFactory, parts: list[bytes],
                                           chunk: int) -> None:
    """scan_text answers what the UTF-8 check, the longest line and the odd-quote check answer one by one."""
    data = b"".join(parts)
    path = tmp_path_factory.mktemp("s") / "f.csv"
    path.write_bytes(data)
    ok, longest = reference_utf8(data)
    assert scan_text(path, chunk_bytes=chunk) == (ok, longest, reference(data))
    assert scan_text(path, quotes=False, chunk_bytes=chunk) == (ok, longest, False)
