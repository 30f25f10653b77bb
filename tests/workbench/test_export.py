"""Case-file export: every file parses, hashes match the manifest, Chinese renders with the CJK font,
tampering is named, unsafe titles give safe names, concurrent exports both complete and verify."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
import warnings
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib import image as mpimg

from graph.core.errors import PermissionDenied
from graph.store import Store
from tests.helpers.g_case_data import NAMES, PASSWORD, TAX_IDS, open_embedded, seed
from workbench import audit, cases, diagram, export, overrides
from workbench.auth import User
from workbench.cli import cli


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.srcs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.srcs += [v or "" for k, v in attrs if k in ("src", "href")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[str, User], str, Path]:
    root = tmp_path_factory.mktemp("export")
    store = open_embedded(root / "ws")
    u = seed(store)
    c = cases.open_case_from_ring(store, u["investigator"], "R-1", title="上海环路 R-1")
    cases.record_disposition(store, u["investigator"], c.case_id, TAX_IDS[0], "confirmed")
    overrides.override_tier(store, u["supervisor"], TAX_IDS[2], "high", "主管复核后上调")
    return store, u, c.case_id, root


@pytest.fixture(scope="module")
def exported(env: tuple[Store, dict[str, User], str, Path]) -> Path:
    store, u, case_id, root = env
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a glyph missing from the font is a warning: fail on boxes
        return export.export_case(store, u["analyst"], case_id, root / "out")


def test_only_analysts_export(env: tuple[Store, dict[str, User], str, Path]) -> None:
    store, u, case_id, root = env
    for role in ("investigator", "supervisor", "admin"):
        with pytest.raises(PermissionDenied):
            export.export_case(store, u[role], case_id, root / "denied")
    assert not (root / "denied").exists()


def test_every_file_parses_and_matches_the_manifest(env: tuple[Store, dict[str, User], str, Path], exported: Path) -> None:
    store, _, case_id, _ = env
    ring = store.ring("R-1")
    assert ring is not None
    with zipfile.ZipFile(exported) as z:
        files = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(files.pop("manifest.json"))
    assert set(manifest["files"]) == set(files)
    for name, data in files.items():
        assert manifest["files"][name]["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["case_id"] == case_id and manifest["exported_by"] == "ana"
    assert [e["action"] for e in manifest["audit_excerpt"]][-1] == "case_export"
    assert {"case_open", "disposition", "case_read"} <= {e["action"] for e in manifest["audit_excerpt"]}

    report = files["report.html"].decode("utf-8")
    p = _Collect()
    p.feed(report)
    assert "img" in p.tags and "iframe" in p.tags and "table" in p.tags
    assert not [s for s in p.srcs if s.startswith(("http:", "https:", "//"))]  # offline
    body = "".join(p.text)
    assert "上海环路 R-1" in body and ring.evidence in body
    assert NAMES[2] in body and NAMES[2] not in report  # the <script> name is text, escaped in the markup
    net = files["network.html"].decode("utf-8")
    assert "vis-network" in net or "vis.Network" in net
    assert 'src="http' not in net

    rows = list(csv.DictReader(io.StringIO(files["invoices.csv"].decode("utf-8-sig"))))
    assert sorted(r["key"] for r in rows) == sorted(ring.invoice_keys)
    sellers = {r["seller_name"] for r in rows}
    assert "'" + NAMES[1] in sellers and NAMES[1] not in sellers  # formula-safe
    tps = list(csv.DictReader(io.StringIO(files["taxpayers.csv"].decode("utf-8-sig"))))
    assert {r["tax_id"] for r in tps} == set(ring.members)
    effective = overrides.effective_scores(store).set_index("tax_id")["tier"].to_dict()
    assert {r["tax_id"]: r["tier"] for r in tps} == {t: effective[t] for t in ring.members}  # overrides applied

    g = nx.read_graphml(io.BytesIO(files["subgraph.graphml"]))
    assert set(g.nodes) == set(ring.members)
    inv = store.invoices(list(ring.invoice_keys)).to_pylist()
    assert sum(int(d["total_fen"]) for _, _, d in g.edges(data=True)) == sum(r["total_fen"] for r in inv)
    assert g.nodes[TAX_IDS[0]]["name"] == NAMES[0]

    for png in ("ring_diagram.png", "timeline.png"):
        img = mpimg.imread(io.BytesIO(files[png]), format="png")
        assert img.shape[0] > 300 and img.shape[1] > 600
        colours = np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
        assert len(colours) > 50  # anti-aliased text and shapes, not a blank canvas
    assert export.verify_export(exported).ok


def test_chinese_uses_the_cjk_font(tmp_path: Path) -> None:
    font = diagram.cjk_font()
    assert "CJK" in font.family and Path(font.path).is_file()
    from matplotlib.ft2font import FT2Font

    face = FT2Font(font.path)
    assert all(face.get_char_index(ord(ch)) != 0 for ch in "上海虹桥贸易有限公司发票时间线")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        used = diagram.ring_diagram_png(tmp_path / "r.png", list(zip(TAX_IDS, NAMES, strict=True)),
                                        [(TAX_IDS[0], TAX_IDS[1], 100)], title="虚开发票团伙")
    assert used == font


def _rewrite(src: Path, dst: Path, change: dict[str, bytes | None]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        names = zin.namelist()
        for n in names:
            if n in change:
                if change[n] is not None:
                    zout.writestr(n, change[n])  # type: ignore[arg-type]
            else:
                zout.writestr(n, zin.read(n))
        for n, data in change.items():
            if n not in names and data is not None:
                zout.writestr(n, data)


def test_tampering_is_named(exported: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(exported) as z:
        csv_bytes = bytearray(z.read("invoices.csv"))
    csv_bytes[-5] ^= 0x01  # one byte
    cases_ = {
        "changed": ({"invoices.csv": bytes(csv_bytes)}, "invoices.csv: changed"),
        "removed": ({"timeline.png": None}, "timeline.png: removed"),
        "added": ({"extra.exe": b"MZ"}, "extra.exe: added"),
    }
    runner = CliRunner()
    for label, (change, expected) in cases_.items():
        bad = tmp_path / f"{label}.zip"
        _rewrite(exported, bad, change)
        res = export.verify_export(bad)
        assert not res.ok and any(p.startswith(expected) for p in res.problems), (label, res.problems)
        r = runner.invoke(cli, ["case", "verify", str(bad)])
        assert r.exit_code != 0 and expected.split(":")[0] in r.output
    raw = bytearray(exported.read_bytes())
    raw[len(raw) // 3] ^= 0xFF  # a flipped byte inside the compressed data
    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(bytes(raw))
    assert not export.verify_export(flipped).ok
    r = runner.invoke(cli, ["case", "verify", str(exported)])
    assert r.exit_code == 0 and "OK" in r.output


def test_unsafe_titles_give_safe_names(env: tuple[Store, dict[str, User], str, Path]) -> None:
    store, u, _, root = env
    out = root / "safe"
    for title in ("../../etc/passwd", "坏\x00名\n\r\x1b[31m/..\\x", ".."):
        c = cases.open_case(store, u["investigator"], title, taxpayers=TAX_IDS[:1])
        path = export.export_case(store, u["analyst"], c.case_id, out)
        assert path.parent == out and path.is_file()
        assert "/" not in path.name and "\\" not in path.name and ".." not in path.name
        assert all(ch.isprintable() for ch in path.name)
        assert export.verify_export(path).ok
    assert export.safe_filename("../../etc/passwd") == "etc_passwd"
    assert export.safe_filename("a\x00b\x1b/c\\d") == "a_b_c_d"
    assert export.safe_filename("..") == "case"
    assert not list(out.glob(".export-*"))  # no temp files left


def test_two_concurrent_exports_both_complete(env: tuple[Store, dict[str, User], str, Path]) -> None:
    store, u, case_id, root = env
    out = root / "concurrent"
    results: list[Path] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(export.export_case(store, u["analyst"], case_id, out))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 2
    assert all(export.verify_export(p).ok for p in results)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in results)
    assert audit.verify(store).ok


def test_cli_export_signs_in_and_checks_role(env: tuple[Store, dict[str, User], str, Path]) -> None:
    store, _, case_id, root = env
    uri = store.uri
    store.close()  # the command opens the workspace itself (last test of the module)
    runner = CliRunner()
    r = runner.invoke(cli, ["case", "export", case_id, "--user", "ana", "--out", str(root / "cli"),
                            "--password-stdin", "--store", uri], input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    made = Path(r.output.strip().splitlines()[-1])
    assert made.is_file() and export.verify_export(made).ok
    r = runner.invoke(cli, ["case", "export", case_id, "--user", "ivan", "--out", str(root / "cli"),
                            "--password-stdin", "--store", uri], input=PASSWORD + "\n")
    assert r.exit_code != 0 and isinstance(r.exception, PermissionDenied)


@pytest.mark.neo4j
def test_case_workflow_and_export_on_real_neo4j(neo4j_uri: str, tmp_path: Path) -> None:
    from neo4j import GraphDatabase

    from graph.neo4j_store import Neo4jStore

    store = Neo4jStore(neo4j_uri)
    try:
        store.clear()
        u = seed(store)
        c = cases.open_case_from_ring(store, u["investigator"], "R-1")
        cases.record_disposition(store, u["investigator"], c.case_id, TAX_IDS[0], "confirmed")
        with GraphDatabase.driver(neo4j_uri, auth=None) as drv:
            recs, _, _ = drv.execute_query(
                "MATCH (k:Case)-[:CONCERNS]->(t:Taxpayer) WHERE k.title = $title RETURN t.tax_id AS t",
                title=c.title)
        assert sorted(r["t"] for r in recs) == sorted(c.taxpayers)
        path = export.export_case(store, u["analyst"], c.case_id, tmp_path)
        assert export.verify_export(path).ok
        with zipfile.ZipFile(path) as z:
            rows = list(csv.DictReader(io.StringIO(z.read("invoices.csv").decode("utf-8-sig"))))
        assert len(rows) == len(c.invoices)
        assert audit.verify(store).ok
    finally:
        store.clear()
        store.close()


def test_the_audit_excerpt_words_coded_details_in_the_report_and_keeps_them_in_the_manifest(tmp_path: Path) -> None:
    """A status change is stored as a coded note (case_status_changed); the case file's report read it as
    the stored JSON until the excerpt was worded."""
    store = open_embedded(tmp_path / "ws")
    u = seed(store)
    c = cases.open_case_from_ring(store, u["investigator"], "R-1", title="上海环路 R-1")
    cases.set_status(store, u["investigator"], c.case_id, "investigating", note="已约谈法人")
    with zipfile.ZipFile(export.export_case(store, u["analyst"], c.case_id, tmp_path / "out")) as z:
        report, manifest = z.read("report.html").decode("utf-8"), json.loads(z.read("manifest.json"))
    assert "新立案 → 调查中：已约谈法人" in report and "case_status_changed" not in report
    stored = [json.loads(e["detail"]) for e in manifest["audit_excerpt"] if e["action"] == "case_status"]
    assert stored == [{"code": "case_status_changed", "before": "open", "after": "investigating", "note": "已约谈法人"}]
