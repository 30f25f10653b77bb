"""Case-file export (analysts): one ZIP an investigator can hand over, open offline and verify.

Contents::

    report.html       summary, evidence in words, ring diagram (PNG inlined), interactive network
                      (inlined, offline), invoice table, timeline chart, audit excerpt
    network.html      the interactive network on its own (vis-network inlined, no CDN)
    ring_diagram.png  static ring diagram (Noto CJK font)
    timeline.png      invoices over time
    invoices.csv      every invoice of the case (formula-safe, UTF-8 with BOM)
    taxpayers.csv     the case's taxpayers with tier and reasons (formula-safe)
    subgraph.graphml  taxpayers and aggregated invoice edges (networkx GraphML)
    originals/…       the files the case's invoices were loaded from (evidence; when kept), and
    originals.csv     invoice key → SHA-256 of its original
    manifest.json     SHA-256 of every other file, case facts and the case's audit excerpt, signed with
                      the installation key (:mod:`workbench.signing`)

:func:`verify_export` (``fapiao case verify FILE.zip [--public-key KEY.pem]``) checks the signature,
recomputes the hashes and names every file that changed, was added, removed or duplicated. The ZIP is written under a unique temporary name in the target
folder and renamed into place, so concurrent exports never collide or leave half-written files.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
import re
import secrets
import tempfile
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import networkx as nx

from graph.core import vocab
from graph.core.errors import IntegrityError
from graph.core.notes import zh_text
from graph.store import Store
from loaders.safe_csv import write_rows
from workbench import audit, diagram, signing
from workbench.auth import User, require
from workbench.cases import Case, get_case
from workbench.fmt import money_full
from workbench.overrides import effective_scores

MANIFEST = "manifest.json"
FORMAT = "fapiao-case-export/1"
MAX_TABLE_ROWS = 500
MAX_MANIFEST_BYTES = 64 << 20
CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


@dataclass(frozen=True)
class ExportVerification:
    ok: bool
    problems: list[str] = field(default_factory=list)
    files: int = 0


def safe_filename(text: str, *, max_len: int = 60) -> str:
    """A file-name fragment: letters (Chinese included), digits, ``_ . -`` only; no ``..``, slashes or
    control characters; never empty.

    Examples
    --------
    >>> safe_filename("../../etc/passwd")
    'etc_passwd'
    >>> safe_filename("上海\\x00环路/案件")
    '上海_环路_案件'
    """
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    text = _UNSAFE.sub("_", text)
    text = re.sub(r"\.{2,}", "_", text)
    text = re.sub(r"_+", "_", text).strip("._-")
    return text[:max_len].rstrip("._-") or "case"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest_hash(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k not in ("self_sha256", "signature")}
    return _sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _case_invoices(store: Store, case: Case) -> list[dict[str, Any]]:
    keys = list(case.invoices)
    for rid in case.rings:
        ring = store.ring(rid)
        if ring is not None:
            keys.extend(ring.invoice_keys)
    keys = list(dict.fromkeys(keys))
    rows = store.invoices(keys).to_pylist() if keys else []
    if not rows and case.taxpayers:  # a taxpayer case: their invoices with each other, or all of one
        members = set(case.taxpayers)
        seen: dict[str, dict[str, Any]] = {}
        for tid in case.taxpayers:
            for r in store.invoices_of(tid, limit=MAX_TABLE_ROWS).to_pylist():
                if len(members) == 1 or (r["seller_tax_id"] in members and r["buyer_tax_id"] in members):
                    seen[r["key"]] = r
        rows = sorted(seen.values(), key=lambda r: r["issued_at"])
    return rows


def _members(store: Store, case: Case, invoices: Sequence[dict[str, Any]]) -> list[str]:
    ids = list(case.taxpayers)
    for rid in case.rings:
        ring = store.ring(rid)
        if ring is not None:
            ids.extend(ring.members)
    if len(ids) <= 1:
        for r in invoices:
            ids.extend((r["seller_tax_id"], r["buyer_tax_id"]))
    return list(dict.fromkeys(ids))


def _edges(invoices: Sequence[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, int]]:
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for r in invoices:
        k = (r["seller_tax_id"], r["buyer_tax_id"])
        c, t = out.get(k, (0, 0))
        out[k] = (c + 1, t + int(r["total_fen"]))
    return out


def _cell(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v


def _reasons(raw: object) -> str:
    """The JSON list of reasons in SCORES as plain text joined with " | "."""
    if not raw:
        return ""
    try:
        items = json.loads(str(raw))
    except ValueError:
        return str(raw)
    return " | ".join(str(x) for x in items) if isinstance(items, list) else str(items)


def _interactive(nodes: list[tuple[str, str]], edges: dict[tuple[str, str], tuple[int, int]],
                 tiers: dict[str, str], highlight: Sequence[str]) -> str:
    from workbench.netgraph import NetEdge, NetNode, network_html

    nn = [NetNode(t, n or t, tiers.get(t), f"{n}\n{t}") for t, n in nodes]
    ids = {t for t, _ in nodes}
    ee = [NetEdge(a, b, fen, c, f"{c} invoices, {money_full(fen)}") for (a, b), (c, fen) in edges.items()
          if a in ids and b in ids]
    return network_html(nn, ee, height="560px", highlight=highlight)


def _report(case: Case, user: User, exported_at: str, nodes: list[tuple[str, str]], score_rows: dict[str, dict[str, Any]],
            invoices: Sequence[dict[str, Any]], evidence: list[str], dispositions: list[dict[str, Any]],
            excerpt: list[dict[str, object]], ring_png: bytes, timeline_png: bytes, network: str) -> str:
    e = html.escape
    total = sum(int(r["total_fen"]) for r in invoices)
    parts = [
        "<!doctype html><html lang='zh'><head><meta charset='utf-8'>",
        f"<title>{e(case.case_id)} {e(case.title)}</title>",
        "<style>body{font-family:'Noto Sans CJK SC','Noto Sans',sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}"
        "th{background:#f3f3f3}.num{text-align:right}img{max-width:100%}</style></head><body>",
        f"<h1>案件 / Case {e(case.case_id)}: {e(case.title)}</h1>",
        "<h2>摘要 / Summary</h2><table>",
    ]
    facts = [("状态 / status", case.status), ("负责人 / owner", case.owner), ("承办人 / assignee", case.assignee or "-"),
             ("立案时间 / opened", case.created_at), ("来源 / source", case.source or "-"),
             ("纳税人 / taxpayers", str(len(nodes))), ("发票 / invoices", str(len(invoices))),
             ("价税合计 / total", money_full(total)), ("导出 / exported", f"{exported_at} by {user.username}")]
    parts += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts]
    parts.append("</table><h2>证据说明 / Evidence</h2><ul>")
    parts += [f"<li>{e(x)}</li>" for x in evidence] or ["<li>-</li>"]
    parts.append("</ul><h2>纳税人 / Taxpayers</h2><table><tr><th>税号</th><th>名称</th><th>风险</th>"
                 "<th>处理结论 / disposition</th><th>原因 / reasons</th></tr>")
    disp = {d["tax_id"]: d["label"] for d in dispositions}
    for tid, name in nodes:
        s = score_rows.get(tid, {})
        parts.append(f"<tr><td>{e(tid)}</td><td>{e(name)}</td><td>{e(vocab.zh(vocab.TIERS, str(s.get('tier', '-'))))}</td>"
                     f"<td>{e(vocab.zh(vocab.DISPOSITIONS, disp.get(tid, '-')))}</td><td>{e(_reasons(s.get('reasons')))}</td></tr>")
    parts.append("</table><h2>团伙图 / Ring diagram</h2>")
    parts.append(f"<img alt='ring diagram' src='data:image/png;base64,{base64.b64encode(ring_png).decode()}'>")
    parts.append("<h2>交互网络 / Interactive network</h2>"
                 f"<iframe style='width:100%;height:600px;border:1px solid #ccc' srcdoc=\"{e(network, quote=True)}\">"
                 "</iframe>")
    parts.append("<h2>时间线 / Timeline</h2>")
    parts.append(f"<img alt='timeline' src='data:image/png;base64,{base64.b64encode(timeline_png).decode()}'>")
    parts.append("<h2>案件记录 / Notes</h2><ul>")
    parts += [f"<li>{e(str(n.get('at', '')))} {e(str(n.get('by', '')))}: {e(str(n.get('text', '')))}</li>"
              for n in case.notes] or ["<li>-</li>"]
    parts.append(f"</ul><h2>发票 / Invoices ({len(invoices)})</h2>")
    if len(invoices) > MAX_TABLE_ROWS:
        parts.append(f"<p>first {MAX_TABLE_ROWS} shown; all are in invoices.csv</p>")
    parts.append("<table><tr><th>发票</th><th>开票时间</th><th>销方</th><th>购方</th><th>金额</th><th>税额</th>"
                 "<th>价税合计</th><th>状态</th></tr>")
    for r in invoices[:MAX_TABLE_ROWS]:
        parts.append(f"<tr><td>{e(r['key'])}</td><td>{e(str(r['issued_at']))}</td><td>{e(r['seller_name'] or '')}</td>"
                     f"<td>{e(r['buyer_name'] or '')}</td><td class=num>{money_full(r['amount_fen'])}</td>"
                     f"<td class=num>{money_full(r['tax_fen'])}</td><td class=num>{money_full(r['total_fen'])}</td>"
                     f"<td>{e(r['status'] or '')}</td></tr>")
    parts.append("</table><h2>审计摘录 / Audit excerpt</h2><table><tr><th>#</th><th>时间</th><th>操作人</th>"
                 "<th>操作</th><th>详情</th></tr>")
    for ev in excerpt:
        parts.append(f"<tr><td>{ev['seq']}</td><td>{e(str(ev['at']))}</td><td>{e(str(ev['actor']))}</td>"
                     f"<td>{e(str(ev['action']))}</td><td>{e(zh_text(str(ev['detail'])))}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts)


def _graphml(nodes: list[tuple[str, str]], edges: dict[tuple[str, str], tuple[int, int]], tiers: dict[str, str]) -> bytes:
    g: nx.DiGraph[str] = nx.DiGraph()
    for tid, name in nodes:
        g.add_node(tid, name=name or "", tier=tiers.get(tid, ""))
    for (a, b), (count, fen) in edges.items():
        if a in g and b in g:
            g.add_edge(a, b, count=count, total_fen=fen)
    buf = io.BytesIO()
    nx.write_graphml(g, buf, encoding="utf-8")
    return buf.getvalue()


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.csv"
        write_rows(p, header, rows)
        return p.read_bytes()


def build_files(store: Store, user: User, case: Case, exported_at: str) -> dict[str, bytes]:
    """Every file of the export except the manifest, by name."""
    invoices = _case_invoices(store, case)
    members = _members(store, case, invoices)
    tps = {r["tax_id"]: r for r in store.taxpayers(members).to_pylist()} if members else {}
    nodes = [(t, str(tps.get(t, {}).get("name") or "")) for t in members]
    eff = effective_scores(store)  # supervisors' tier overrides applied
    score_rows: dict[str, dict[str, Any]] = {str(r["tax_id"]): {str(k): v for k, v in r.items()}
                                             for r in eff.to_dict("records") if r["tax_id"] in set(members)}
    tiers = {t: str(r["tier"]) for t, r in score_rows.items()}
    edges = _edges(invoices)
    evidence = [f"{r.ring_id} ({r.kind}, score {r.score:.2f}): {r.evidence}"
                for r in (store.ring(rid) for rid in case.rings) if r is not None]
    from workbench.cases import dispositions as case_dispositions

    disp = case_dispositions(store, case.case_id)
    evidence += [f"{d['tax_id']}: {d['label']} ({d['by']}, {d['at']}) {d.get('note', '')}".strip() for d in disp]
    excerpt = [audit.event_row(ev) for ev in reversed(audit.events(store, target=f"case:{case.case_id}"))
               if ev.target == f"case:{case.case_id}"]
    with tempfile.TemporaryDirectory() as d:
        ring_p, tl_p = Path(d) / "ring.png", Path(d) / "timeline.png"
        diagram.ring_diagram_png(ring_p, nodes, [(a, b, fen) for (a, b), (_, fen) in edges.items()],
                                 title=f"{case.case_id} {case.title}", tiers=tiers, highlight=case.taxpayers)
        diagram.timeline_png(tl_p, [(r["issued_at"], int(r["total_fen"]), str(r["status"])) for r in invoices],
                             title=f"{case.case_id} 发票时间线 / invoice timeline")
        ring_png, timeline_png = ring_p.read_bytes(), tl_p.read_bytes()
    network = _interactive(nodes, edges, tiers, case.taxpayers)
    inv_cols = ["key", "code", "number", "issued_at", "seller_tax_id", "seller_name", "buyer_tax_id", "buyer_name",
                "amount_fen", "tax_fen", "total_fen", "rate", "kind", "status", "red_ref", "item_code", "item_name"]
    inv_rows = [[_cell(r.get(c)) for c in inv_cols] for r in invoices]
    tp_rows = [[t, n, tiers.get(t, ""), score_rows.get(t, {}).get("score", ""), _reasons(score_rows.get(t, {}).get("reasons"))]
               for t, n in nodes]
    report = _report(case, user, exported_at, nodes, score_rows, invoices, evidence, disp, excerpt, ring_png,
                     timeline_png, network)
    from loaders.evidence import case_files

    return {
        **case_files(store, [str(r["key"]) for r in invoices]),   # the originals, hashed in the manifest
        "report.html": report.encode("utf-8"),
        "network.html": network.encode("utf-8"),
        "ring_diagram.png": ring_png,
        "timeline.png": timeline_png,
        "invoices.csv": _csv(inv_cols, inv_rows),
        "taxpayers.csv": _csv(["tax_id", "name", "tier", "score", "reasons"], tp_rows),
        "subgraph.graphml": _graphml(nodes, edges, tiers),
        "audit_excerpt": json.dumps(excerpt, ensure_ascii=False).encode("utf-8"),
    }


def export_case(store: Store, user: User, case_id: str, out_dir: Path) -> Path:
    """Export one case as a verifiable ZIP into ``out_dir`` (analysts only; audited as ``case_export``).

    Parameters
    ----------
    store, user : the store and the acting user (needs ``export_case``).
    case_id : str
        The case to export.
    out_dir : Path
        Folder for the ZIP (created if missing).

    Returns
    -------
    Path
        ``out_dir/<case id>_<title>_<time>_<random>.zip``; the name is always a safe single path part.
    """
    require(user, "export_case")
    case = get_case(store, user, case_id)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    now = audit.now()
    name = (f"{safe_filename(case.case_id, max_len=40)}_{safe_filename(case.title)}_{now:%Y%m%dT%H%M%S}_"
            f"{secrets.token_hex(3)}.zip")
    audit.record(store, user, "case_export", f"case:{case_id}", name)
    files = build_files(store, user, case, now.isoformat())
    excerpt = json.loads(files.pop("audit_excerpt"))
    manifest = {"format": FORMAT, "case_id": case.case_id, "title": case.title, "status": case.status,
                "exported_at": now.isoformat(), "exported_by": user.username,
                "files": {n: {"sha256": _sha256(b), "bytes": len(b)} for n, b in sorted(files.items())},
                "audit_excerpt": excerpt}
    manifest["self_sha256"] = _manifest_hash(manifest)
    manifest["signature"] = signing.sign(_signed_part(manifest))
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".export-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for n, b in sorted(files.items()):
                z.writestr(n, b)
            z.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
        final = out_dir / name
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final


def _signed_part(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k != "signature"}


def _member_sha256(z: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> tuple[str, int]:
    """SHA-256 and size of one member, read in chunks (bounded memory); stops past ``limit`` bytes."""
    digest = hashlib.sha256()
    size = 0
    with z.open(info) as f:
        while chunk := f.read(CHUNK):
            size += len(chunk)
            if size > limit:
                break
            digest.update(chunk)
    return digest.hexdigest(), size


def _listed_files(manifest: object) -> dict[str, dict[str, Any]] | str:
    """The manifest's ``files`` map, or why it has the wrong shape."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return "has no files map"
    files: dict[str, dict[str, Any]] = {}
    for name, meta in manifest["files"].items():
        if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str) \
                or not isinstance(meta.get("bytes"), int) or isinstance(meta.get("bytes"), bool):
            return f"entry {str(name)[:60]!r} has the wrong type"
        files[str(name)] = meta
    return files


def verify_export(path: Path, public_key: Path | None = None) -> ExportVerification:
    """Check an exported ZIP against its signed manifest: names every changed, added, removed or
    duplicated file, and whether the manifest is signed by the trusted key.

    The trusted key is ``public_key`` (a PEM file from ``fapiao keys export``, for an outside party), or
    the installation's own. Members are hashed in chunks, so memory stays bounded whatever they inflate to.

    Returns
    -------
    ExportVerification
        ``ok`` False with one line per problem (a missing, unreadable or unsigned manifest is a problem too).
    """
    problems: list[str] = []
    trusted = signing.trusted_key(public_key)
    try:
        with zipfile.ZipFile(path) as z:
            infos = [i for i in z.infolist() if not i.is_dir()]
            names = [i.filename for i in infos]
            counts = Counter(names)
            for n, k in sorted(counts.items()):
                if k > 1:
                    problems.append(f"{n}: appears {k} times in the ZIP (a second copy can hide a forged one)")
            manifests = [i for i in infos if i.filename == MANIFEST]
            if not manifests:
                return ExportVerification(False, [f"{path.name}: no {MANIFEST} inside"], len(names))
            if manifests[0].file_size > MAX_MANIFEST_BYTES:
                return ExportVerification(False, [*problems, f"{MANIFEST} is too large to be a manifest"], len(names))
            try:
                manifest = json.loads(z.read(manifests[0]))
            except (ValueError, RecursionError) as e:
                return ExportVerification(False, [*problems, f"{MANIFEST} is unreadable: {str(e)[:120]}"], len(names))
            listed = _listed_files(manifest)
            if isinstance(listed, str):
                return ExportVerification(False, [*problems, f"{MANIFEST} {listed}"], len(names))
            if manifest.get("self_sha256") != _manifest_hash(manifest):
                problems.append(f"{MANIFEST}: changed (its own hash does not match its content)")
            if trusted is None:
                problems.append(f"{MANIFEST}: signature not checked: no trusted public key here "
                                "(pass --public-key FILE from `fapiao keys export`)")
            else:
                why = signing.check(_signed_part(manifest), manifest.get("signature"), trusted)
                if why is not None:
                    problems.append(f"{MANIFEST}: {why}")
            for n in sorted(set(names) - set(listed) - {MANIFEST}):
                problems.append(f"{n}: added (not in the manifest)")
            for n in sorted(listed):
                if n not in counts:
                    problems.append(f"{n}: removed (listed in the manifest, missing from the ZIP)")
            for info in infos:
                meta = listed.get(info.filename)
                if meta is None:
                    continue
                try:
                    digest, size = _member_sha256(z, info, int(meta["bytes"]))
                except (zipfile.BadZipFile, OSError, zlib.error, EOFError, RuntimeError, NotImplementedError) as e:
                    problems.append(f"{info.filename}: changed (unreadable: {str(e)[:120]})")
                    continue
                if size != meta["bytes"] or digest != meta["sha256"]:
                    problems.append(f"{info.filename}: changed (SHA-256 differs from the manifest)")
    except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as e:
        return ExportVerification(False, [f"{path.name}: not a readable ZIP ({str(e)[:120]})"], 0)
    return ExportVerification(not problems, problems, len(names))


def require_valid(path: Path, public_key: Path | None = None) -> ExportVerification:
    """:func:`verify_export`, raising IntegrityError naming the problems when it fails."""
    res = verify_export(path, public_key)
    if not res.ok:
        raise IntegrityError(f"{path.name} does not verify: " + "; ".join(res.problems))
    return res
