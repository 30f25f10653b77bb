"""OCR field accuracy and speed on rendered invoices with known fields.

Each invoice (tests/ingest/einvoices.py: 数电 and the older 电子普通发票 layout) is rendered to PDF,
rasterised at 150 and 300 dpi, optionally degraded (Gaussian noise, a 1.5° skew, JPEG), read by
loaders.ocr, and every field compared with what was printed. Reports per-field accuracy, seconds per
page, how many pages would load without review, and how many of those hold a wrong field (must be 0).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_ocr.py --invoices 3
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FIELDS = ("invoice_number", "invoice_code", "issue_date", "seller_tax_id", "seller_name", "buyer_tax_id",
          "buyer_name", "amount", "tax_amount", "total_amount", "tax_rate")


def _degrade(img, rng: random.Random):  # type: ignore[no-untyped-def]
    import numpy as np
    from PIL import Image

    a = np.asarray(img.convert("L"), dtype=np.float32)
    a = a + np.random.default_rng(rng.randrange(1 << 30)).normal(0, 18, a.shape)
    out = Image.fromarray(np.clip(a, 0, 255).astype("uint8")).rotate(1.5, expand=True, fillcolor=255)
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=70)
    return Image.open(io.BytesIO(buf.getvalue()))


def _norm(field: str, v: str) -> str:
    v = re.sub(r"[\s,¥]", "", v or "")
    if field == "issue_date":
        m = re.match(r"(\d{4})\D(\d{1,2})\D(\d{1,2})", v)
        return f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}" if m else v
    return v


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--invoices", type=int, default=3)
    args = ap.parse_args()
    import pypdfium2 as pdfium

    from loaders.ocr import needs_review, read_image
    from tests.ingest.einvoices import invoice_pdf, sample, yuan

    rng = random.Random(7)
    hits: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    secs: dict[tuple[int, str], list[float]] = defaultdict(list)
    passed = wrong_passed = pages = 0
    for i in range(args.invoices):
        legacy = i % 2 == 1
        inv = sample(10 + i, digital=not legacy)
        truth = {"invoice_number": inv.number, "invoice_code": inv.code, "issue_date": inv.date,
                 "seller_tax_id": inv.seller[0], "seller_name": inv.seller[1], "buyer_tax_id": inv.buyer[0],
                 "buyer_name": inv.buyer[1], "amount": yuan(inv.amount_fen), "tax_amount": yuan(inv.tax_fen),
                 "total_amount": yuan(inv.amount_fen + inv.tax_fen), "tax_rate": "13%"}
        pdf = pdfium.PdfDocument(invoice_pdf(inv, legacy=legacy))
        for dpi in (150, 300):
            clean = pdf[0].render(scale=dpi / 72).to_pil()
            for variant in ("clean", "noise+skew+jpeg"):
                img = clean if variant == "clean" else _degrade(clean, rng)
                t = time.perf_counter()
                try:
                    doc = read_image(img, f"{i}-{dpi}-{variant}")
                    fields, conf = doc.fields, doc.confidence
                except Exception as e:  # a page that cannot be read counts as every field wrong
                    print(f"invoice {i} {dpi} dpi {variant}: {e}", file=sys.stderr)
                    fields, conf = {}, {}
                secs[(dpi, variant)].append(time.perf_counter() - t)
                pages += 1
                ok_all = True
                for f in FIELDS:
                    good = _norm(f, fields.get(f, "")) == _norm(f, truth[f])
                    hits[(dpi, f)][0] += good
                    hits[(dpi, f)][1] += 1
                    ok_all &= good
                if fields and not needs_review({k: str(v) for k, v in fields.items()}, conf):
                    passed += 1
                    wrong_passed += not ok_all
    print(f"pages {pages}; load average {os.getloadavg()[0]:.1f}")
    print("| field | 150 dpi | 300 dpi |\n|---|---|---|")
    for f in FIELDS:
        cells = [f"{hits[(d, f)][0]}/{hits[(d, f)][1]}" for d in (150, 300)]
        print(f"| {f} | {' | '.join(cells)} |")
    print("\n| dpi | variant | pages | s/page mean | s/page max |\n|---|---|---|---|---|")
    for (dpi, variant), v in sorted(secs.items()):
        print(f"| {dpi} | {variant} | {len(v)} | {sum(v) / len(v):.2f} | {max(v):.2f} |")
    print(f"\nwould load without review: {passed}/{pages}; of those with a wrong field: {wrong_passed}")


if __name__ == "__main__":
    main()
