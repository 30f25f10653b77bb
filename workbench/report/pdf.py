"""HTML to PDF with headless Chromium (``chromium --headless --print-to-pdf``).

Why Chromium and not fpdf2: the PDF is the report's own HTML printed, so the two formats can never say
different things and there is one layout to maintain; Chromium shapes Chinese text and falls back across
fonts through fontconfig (Noto Sans CJK), and breaks long tables across pages by itself. fpdf2 is only a
test dependency here, would need a second, hand-positioned layout and explicit CJK font files. The cost is
the Chromium binary at run time (Debian ``chromium``, already required by the browser tests), about a
second or two per PDF.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from graph.core import settings
from graph.core.errors import ConfigError, FapiaoError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120


def chromium() -> str:
    """The Chromium executable: ``FAPIAO_CHROMIUM`` if set, else the first of :data:`CANDIDATES` on PATH.

    Raises
    ------
    ConfigError
        No Chromium found (Debian/Ubuntu: ``apt-get install chromium fonts-noto-cjk``).
    """
    wanted = settings.get("FAPIAO_CHROMIUM").strip()
    if wanted:
        if not Path(wanted).is_file():
            raise ConfigError(f"FAPIAO_CHROMIUM={wanted} is not a file")
        return wanted
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError("PDF reports need Chromium: install it (Debian/Ubuntu: apt-get install chromium "
                      "fonts-noto-cjk) or set FAPIAO_CHROMIUM to its path; the HTML report needs nothing")


def html_to_pdf(document: str) -> bytes:
    """Print the HTML ``document`` (self-contained: no network is used) to PDF bytes, A4, no header/footer."""
    exe = chromium()
    with tempfile.TemporaryDirectory(prefix="fapiao-report-") as tmp:
        src, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        src.write_text(document, encoding="utf-8")
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions",
               "--disable-background-networking", "--disable-component-update", "--no-first-run",
               f"--user-data-dir={Path(tmp) / 'profile'}", "--no-pdf-header-footer",
               f"--print-to-pdf={out}", src.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as e:
            raise FapiaoError(f"Chromium did not print the report within {TIMEOUT_S} s") from e
        if not out.is_file() or out.stat().st_size == 0:
            tail = done.stderr.decode(errors="replace")[-500:]
            raise FapiaoError(f"Chromium made no PDF (exit {done.returncode}): {tail}")
        return out.read_bytes()
