from pathlib import Path

import pytest

from graph.core import settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


@pytest.mark.checkout
def test_every_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [s.name for s in settings.SETTINGS if f"`{s.name}`" not in text]
    assert missing == []


def test_get_reads_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FAPIAO_NEO4J_BATCH", "123")
    assert settings.get_int("FAPIAO_NEO4J_BATCH") == 123
    monkeypatch.delenv("FAPIAO_NEO4J_BATCH")
    assert settings.get_int("FAPIAO_NEO4J_BATCH") == 5000
