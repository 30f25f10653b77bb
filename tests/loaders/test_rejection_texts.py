"""Quarantine texts and rule counts built per distinct rule set equal the row-by-row reference."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders.load import EXAMPLES_PER_RULE, _note_rejections
from loaders.rules import Issue, _rejection_texts, _rejection_texts_by_row

RULE_IDS = ["bad_value", "missing_field", "tax_id_format", "duplicate_key", "total_mismatch"]
FIELDS = ["amount", "invoice_number", "seller_tax_id", ""]

issue = st.builds(lambda rule, fld, rows, detail: Issue(rule, fld, np.array(rows, dtype=np.int64), detail),
                  st.sampled_from(RULE_IDS), st.sampled_from(FIELDS),
                  st.lists(st.integers(0, 29), max_size=12), st.sampled_from(["", "earlier in this file", "x"]))


@given(st.lists(st.booleans(), min_size=30, max_size=30), st.lists(issue, max_size=8))
@settings(max_examples=300, deadline=None)
def test_rejection_texts_equal_row_by_row(bad_list: list[bool], errors: list[Issue]) -> None:
    bad = np.array(bad_list, dtype=np.bool_)
    rejected = np.flatnonzero(bad)
    assert _rejection_texts(rejected, bad, errors) == _rejection_texts_by_row(rejected, bad, errors)


def reference_notes(records: np.ndarray, rules: list[str]) -> tuple[dict[str, int], dict[str, list[str]]]:
    by_rule: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for i, text in enumerate(rules):
        for rule in text.split(";"):
            if rule:
                by_rule[rule] += 1
                ex = examples.setdefault(rule, [])
                if len(ex) < EXAMPLES_PER_RULE:
                    ex.append(f"record {records[i]}")
    return dict(by_rule), examples


@given(st.lists(st.lists(st.sampled_from(RULE_IDS), max_size=3, unique=True).map(";".join), max_size=40))
@settings(max_examples=300, deadline=None)
def test_note_rejections_equal_one_note_per_row(rules: list[str]) -> None:
    records = np.arange(len(rules), dtype=np.int64) * 7 + 2
    by_rule: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}

    def note(rule: str, n: int, example: str) -> None:
        by_rule[rule] += n
        ex = examples.setdefault(rule, [])
        if len(ex) < EXAMPLES_PER_RULE:
            ex.append(example)

    _note_rejections(records, rules, note)
    want_counts, want_examples = reference_notes(records, rules)
    assert list(dict(by_rule).items()) == list(want_counts.items())   # same counts, rules in the same order
    assert examples == want_examples
