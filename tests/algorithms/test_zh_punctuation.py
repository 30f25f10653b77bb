"""Evidence and reasons are Chinese sentences: their punctuation is full width (，；：（）), as the Chinese UI shows
them; numbers keep theirs (1,000, p=0.01)."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pandas as pd
import pytest

import algorithms
import workbench

#: the modules that write evidence sentences and score reasons, where they are imported from (the source tree, or
#: the installed wheel in `make wheel-check`, whose tests have no source tree beside them)
WRITERS = [*sorted(Path(algorithms.__file__).parent.glob("*.py")), Path(workbench.__file__).parent / "detect.py"]
CJK = re.compile(r"[\u4e00-\u9fff]")
ASCII_IN_SENTENCE = re.compile(r"[,;:()]")


def _outside_fields(body: str, f_string: bool) -> str:
    """The literal text of a string: an f-string's {replacement fields} left out (format specs use ':' and ',')."""
    if not f_string:
        return body
    out, depth = [], 0
    for c in body:
        depth += c == "{"
        if depth == 0:
            out.append(c)
        depth -= c == "}" and depth > 0
    return "".join(out)


def _chinese_literals(path: Path) -> list[tuple[int, str]]:
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
        if tok.type != tokenize.STRING:
            continue
        m = re.match(r"([rRbBuUfF]*)(\"\"\"|'''|\"|')", tok.string)
        assert m is not None
        prefix, quote = m.groups()
        if len(quote) == 3 or "b" in prefix.lower():   # docstrings, bytes
            continue
        text = _outside_fields(tok.string[len(prefix) + 1:-1], "f" in prefix.lower())
        if CJK.search(text):
            found.append((tok.start[0], text))
    return found


@pytest.mark.parametrize("path", WRITERS, ids=lambda p: p.name)
def test_chinese_strings_use_full_width_punctuation(path: Path) -> None:
    wrong = [(line, text) for line, text in _chinese_literals(path)
             if ASCII_IN_SENTENCE.search(re.sub(r"\d[,:]\d", "", text))]   # 1,000 and 3:1 stay
    assert wrong == []


def test_a_community_and_a_hub_read_with_chinese_punctuation() -> None:
    from algorithms import hubs
    from algorithms.communities import Community
    from algorithms.signals import make_signal

    c = Community(("A", "B", "C"), 1_000_00, 0.92, 0.5, 1, 0.4, 2, 0.8)
    assert c.evidence() == "3 家企业的团伙，92% 的发票金额在团伙内部流转，内部密度 0.50，内含 1 个时序闭环，2 对成员共用身份信息，成员平均风险信号 0.40"
    fan = make_signal("fan_hub", pd.DataFrame({"value": [0.99], "flag": [True], "evidence": ["变票"],
                                               "value_added": [0.01]}, index=["A"]))
    passing = make_signal("pass_hub", pd.DataFrame({"value": [0.999], "flag": [True], "evidence": ["过票中转"],
                                                    "margin": [0.02]}, index=["A"]))
    assert hubs.either(fan, passing).table.loc["A", "evidence"] == "变票；过票中转"
