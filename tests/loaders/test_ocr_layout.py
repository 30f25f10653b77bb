"""The OCR layout pass (loaders.ocr_layout): ink, skew and text runs on page images drawn by the tests."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from loaders.ocr_layout import deskew_angle, ink_mask, otsu, stack_runs, text_boxes


def _page(lines: list[tuple[int, int, int]], size: tuple[int, int] = (1600, 1000)) -> Image.Image:
    """A white page with solid dark bars standing for text runs: (x, y, width), 20 px high."""
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    for x, y, w in lines:
        draw.rectangle((x, y, x + w - 1, y + 19), fill=30)
    return img


RUNS = [(100, 100, 300), (500, 100, 200), (100, 200, 600), (900, 205, 250), (100, 400, 120), (1200, 700, 300)]


def test_runs_are_found_where_they_were_drawn() -> None:
    boxes, line = text_boxes(ink_mask(np.asarray(_page(RUNS))))
    assert boxes == sorted([(x, y, x + w, y + 20) for x, y, w in RUNS], key=lambda b: (b[1], b[0]))
    assert line == 20


def test_a_label_gap_splits_a_run_and_a_character_gap_does_not() -> None:
    # two bars 8 px apart (a gap between characters) stay one run; 40 px apart (label and value) do not
    boxes, _ = text_boxes(ink_mask(np.asarray(_page([(100, 100, 50), (158, 100, 50), (248, 100, 50)]))))
    assert boxes == [(100, 100, 208, 120), (248, 100, 298, 120)]


def test_specks_and_noise_are_not_runs() -> None:
    page = np.asarray(_page(RUNS), dtype=np.float32)
    noisy = np.clip(page + np.random.default_rng(3).normal(0, 18, page.shape), 0, 255).astype(np.uint8)
    noisy[600, 600] = 0   # one dark pixel
    boxes, _ = text_boxes(ink_mask(noisy))
    assert len(boxes) == len(RUNS)
    assert not ink_mask(np.full((50, 50), 250, dtype=np.uint8)).any()
    assert 30 < otsu(noisy) < 255


def test_skew_is_measured_in_the_sense_that_undoes_it() -> None:
    page = _page(RUNS + [(100, y, 1300) for y in range(450, 650, 40)])
    for turned in (1.5, -2.0, 0.0):
        skewed = page.rotate(turned, expand=True, fillcolor=255)
        angle = deskew_angle(ink_mask(np.asarray(skewed)))
        assert abs(angle + turned) <= 0.25, (turned, angle)


def test_runs_are_stacked_one_per_line_with_their_place_kept() -> None:
    page = _page(RUNS)
    boxes, line = text_boxes(ink_mask(np.asarray(page)))
    canvas, bands = stack_runs(page, boxes, line, pad=8)
    assert [b for _, _, b in bands] == boxes
    assert canvas.width == max(b[2] - b[0] for b in boxes) + 16
    a = np.asarray(canvas)
    next_tops = [top for top, _, _ in bands[1:]] + [canvas.height]
    for (top, bottom, box), next_top in zip(bands, next_tops, strict=True):
        assert bottom - top == box[3] - box[1] + 16
        assert (a[top + 8:bottom - 8, 8:8 + box[2] - box[0]] < 128).all()   # the run, dark
        assert (a[bottom:next_top] == 255).all()                             # white between runs
    corner = stack_runs(page, [(0, 0, 40, 20)], 20)[0]
    assert (np.asarray(corner)[:8] == 255).all()   # a run at the page edge gets white padding, not black


def test_ocr_slips_of_labels_and_rates_are_undone() -> None:
    from loaders.einvoice import Segment, fields_from_layout
    from loaders.ocr import _clean

    assert [_clean(t) for t in ("139%6", "139%", "13%0", "99%", "6%", "45%", "12010.00")] == \
        ["13%", "13%", "13%", "9%", "6%", "45%", "12010.00"]
    # a label read with ';' or without its colon still labels the value run beside it
    runs = [Segment(_clean(t), x, 10) for t, x in (("发票代码", 100), ("035022000111", 200))]
    runs += [Segment(_clean(t), x, 30) for t, x in (("发票号码;", 100), ("20000013", 200))]
    fields = fields_from_layout(runs).fields
    assert (fields["invoice_code"], fields["invoice_number"]) == ("035022000111", "20000013")
    # the total line with （小写） misread (as read from a clean 200-dpi render): the total still ends the line
    runs += [Segment(_clean(t), x, 50) for t, x in (("价税合计", 77), ("(大写)", 177), ("@@过万参什伍佰陆拾圆整", 383),
                                                     ("直写)", 1081), ("Y13,618.76", 1204))]
    assert fields_from_layout(runs).fields["total_amount"] == "13618.76"


def test_a_box_found_on_the_straightened_page_maps_back_to_the_scan() -> None:
    """Review crops are cut from the scan as it came: boxes found after deskewing are turned back."""
    from loaders.ocr_layout import unrotate_box

    scan = _page([(1200, 150, 300)])
    for angle in (1.5, -2.0, 0.0):
        turned = scan.rotate(angle, expand=True, fillcolor=255)
        [found], _ = text_boxes(ink_mask(np.asarray(turned)))
        x0, y0, x1, y1 = unrotate_box(found, angle, turned.size, scan.size)
        assert abs(x0 - 1200) <= 3 and abs(x1 - 1500) <= 3, (angle, (x0, y0, x1, y1))
        assert y0 <= 151 and y1 >= 169 and y1 - y0 <= 20 + 2 * 300 * abs(np.sin(np.radians(angle))) + 4
