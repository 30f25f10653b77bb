"""Where the code under test lives. ``SOURCES`` holds the packages being tested (a checkout, or site-packages when
the tests run against an installed wheel: `make wheel-check`); ``CHECKOUT`` is the repository the tests came from,
with docs/, tools/ and .streamlit/ — tests that read those are marked ``checkout`` and left out of wheel-check."""

from __future__ import annotations

from pathlib import Path

import workbench

SOURCES = Path(workbench.__file__).resolve().parents[1]
CHECKOUT = Path(__file__).resolve().parents[2]
SCREENS = SOURCES / "workbench" / "ui" / "screens"
