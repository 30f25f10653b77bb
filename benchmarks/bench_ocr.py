"""OCR field accuracy and speed on rendered invoices with known fields.

Each invoice (tests/ingest/einvoices.py: 数电 and the older 电子普通发票 layout) is rendered to PDF,
rasterised at 150 and 300 dpi, optionally degraded (Gaussian noise, a 1.5° skew, JPEG), read by
loaders.ocr, and every field compared with what was printed. Each page is read by every reader named
in ``--readers`` in turn (``page``: the whole page in one Tesseract block after its orientation
check, the reader before the text-run cut; ``runs``: the text-run reader), so their figures come from
the same run and the same load. Reports per-field accuracy, wall and CPU seconds per page (CPU counts
the Tesseract processes too), how many pages would load without review, and how many of those hold a
wrong field (must be 0).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_ocr.py --invoices 4 --readers page,runs
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
    ap.add_argument("--readers", default="page,runs", help="comma-separated: page, runs")
    args = ap.parse_args()
    readers = args.readers.split(",")
    import pypdfium2 as pdfium

    from loaders.ocr import needs_review, read_image
    from tests.ingest.einvoices import invoice_pdf, sample, yuan

    rng = random.Random(7)
    hits: dict[tuple[str, int, str], list[int]] = defaultdict(lambda: [0, 0])
    secs: dict[tuple[str, int, str], list[tuple[float, float]]] = defaultdict(list)
    passed: dict[str, int] = defaultdict(int)
    wrong_passed: dict[str, int] = defaultdict(int)
    pages = 0
    load0 = os.getloadavg()[0]
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
                pages += 1
                for reader in readers:
                    t, c = time.perf_counter(), _cpu()
                    try:
                        doc = read_image(img, f"{i}-{dpi}-{variant}", reader=reader)
                        fields, conf = doc.fields, doc.confidence
                    except Exception as e:  # a page that cannot be read counts as every field wrong
                        print(f"{reader}: invoice {i} {dpi} dpi {variant}: {e}", file=sys.stderr)
                        fields, conf = {}, {}
                    secs[(reader, dpi, variant)].append((time.perf_counter() - t, _cpu() - c))
                    ok_all = True
                    for f in FIELDS:
                        good = _norm(f, fields.get(f, "")) == _norm(f, truth[f])
                        hits[(reader, dpi, f)][0] += good
                        hits[(reader, dpi, f)][1] += 1
                        ok_all &= good
                    if fields and not needs_review({k: str(v) for k, v in fields.items()}, conf):
                        passed[reader] += 1
                        wrong_passed[reader] += not ok_all
    print(f"pages {pages} per reader; load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end "
          f"(2 cores)")
    cols = [(r, d) for r in readers for d in (150, 300)]
    print("| field | " + " | ".join(f"{r} {d} dpi" for r, d in cols) + " |\n|---|" + "---|" * len(cols))
    for f in FIELDS:
        print(f"| {f} | " + " | ".join(f"{hits[(r, d, f)][0]}/{hits[(r, d, f)][1]}" for r, d in cols) + " |")
    tot = {r: sum(hits[(r, d, f)][0] for d in (150, 300) for f in FIELDS) for r in readers}
    print("| all fields | " + " | ".join(f"{sum(hits[(r, d, f)][0] for f in FIELDS)}/"
                                        f"{sum(hits[(r, d, f)][1] for f in FIELDS)}" for r, d in cols) + " |")
    print("\n| reader | dpi | variant | pages | wall s/page mean | max | CPU s/page mean |\n|---|---|---|---|---|---|---|")
    for (reader, dpi, variant), v in sorted(secs.items()):
        wall, cpu = [w for w, _ in v], [c for _, c in v]
        print(f"| {reader} | {dpi} | {variant} | {len(v)} | {sum(wall) / len(v):.2f} | {max(wall):.2f} "
              f"| {sum(cpu) / len(v):.2f} |")
    for r in readers:
        allw = [w for (rr, _, _), v in secs.items() if rr == r for w, _ in v]
        allc = [c for (rr, _, _), v in secs.items() if rr == r for _, c in v]
        print(f"\n{r}: fields right {tot[r]}; wall {sum(allw) / len(allw):.2f} s/page, CPU {sum(allc) / len(allc):.2f} "
              f"s/page; would load without review: {passed[r]}/{pages}; of those with a wrong field: "
              f"{wrong_passed[r]}")


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children (the Tesseract runs)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system

if __name__ == "__main__":
    main()
