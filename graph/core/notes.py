"""Notes the packages write for people (import report notes, audit event details) as a stable code and its
values, worded in this one module: Chinese (the workbench) and English (the command line, report.json readers).

A producer writes ``Note("header_row_found", {"row": 3, "skipped": 2, "shown": ["发票清单"]})``; a page shows
``note.zh()``, the command line ``note.en()``. Stored notes are JSON (``{"code": …, <values>}``); text stored
before notes were structured is shown as it was written (:func:`zh_text`). A new code is a row in
:data:`WORDINGS` (a test fails when a code lacks a wording).

``file`` and ``sheet`` values place a note (a file of a folder or zip, a sheet of a workbook) and are worded
as a prefix for every code.

Examples
--------
>>> n = Note("total_rows_skipped", {"rows": 2, "shown": "合计 1130"}).within(sheet="发票")
>>> n.zh()
"工作表 '发票'：跳过末尾合计行 2 行（'合计 1130'）"
>>> n.en()
"sheet '发票': 2 total row(s) at the end skipped ('合计 1130')"
>>> Note.from_json(n.to_json()) == n
True
>>> zh_text("an entry written before notes had codes")
'an entry written before notes had codes'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graph.core import vocab

Value = str | int | list[str]
Values = Mapping[str, Value]
_Words = Callable[[Values], str]

#: values that place a note, worded as a prefix (outermost first): value → (中文, English) format
PLACES: dict[str, tuple[str, str]] = {"file": ("{}：", "{}: "), "sheet": ("工作表 {!r}：", "sheet {!r}: ")}


def _num(v: Values, key: str) -> str:
    n = v.get(key, 0)
    return f"{n:,}" if isinstance(n, int) else str(n)


def _list(v: Values, key: str) -> list[str]:
    items = v.get(key, [])
    return [str(t) for t in items] if isinstance(items, list) else [str(items)]


def _names(v: Values, key: str, sep: str) -> str:
    return sep.join(repr(t) for t in _list(v, key))


def _label(table: vocab.Labels, code: Value, lang: int) -> str:
    pair = table.get(str(code))
    return pair[lang] if pair else str(code)


#: why a sign-in was refused (``sign_in_refused`` reason codes)
SIGN_IN_REASONS: vocab.Labels = {
    "unknown_user": ("用户不存在", "unknown user"),
    "wrong_password": ("密码错误", "wrong password"),
    "user_disabled": ("用户已停用", "user disabled"),
    "demo_outside_demo": ("演示用户只能在演示模式下登录", "demo user outside demo mode"),
}


def _opt(v: Values, key: str, text: str) -> str:
    return text if v.get(key) not in (None, "", []) else ""


def _change(v: Values, key: str, word: Callable[[list[str]], str]) -> str:
    """``before → after`` of ``<key>_before`` and ``<key>``, or only ``after`` when it did not change."""
    before, after = _list(v, key + "_before"), _list(v, key)
    return f"{word(before)} → {word(after)}" if before != after else word(after)


def _rule_change(v: Values, lang: int) -> str:
    zh = lang == 0
    state = {"on": "启用", "off": "停用"} if zh else {"on": "on", "off": "off"}
    sep, colon, none = ("、", "：", "无") if zh else (", ", ": ", "-")
    return ("；" if zh else "; ").join((
        _change(v, "enabled", lambda x: "".join(state.get(t, t) for t in x)),
        ("角色" if zh else "roles") + colon
        + _change(v, "roles", lambda x: sep.join(_label(vocab.ROLES, r, lang) for r in x) or none),
        ("阈值" if zh else "thresholds") + colon + _change(v, "params", lambda x: " ".join(x) or none)))


def _counts(v: Values, lang: int) -> str:
    """A load's counts: rows read, invoices loaded, rows rejected."""
    if lang == 0:
        return f"读取 {_num(v, 'read')} 行，入库 {_num(v, 'loaded')} 张，拒收 {_num(v, 'rejected')} 行"
    return f"read {_num(v, 'read')}, loaded {_num(v, 'loaded')}, rejected {_num(v, 'rejected')}"


def _change_to(table: vocab.Labels, v: Values, lang: int, extra: str) -> str:
    """``before → after`` in ``table``'s words, then ``extra`` (a reason, a note) when given."""
    colon = "：" if lang == 0 else ": "
    return (f"{_label(table, v.get('before') or '-', lang)} → {_label(table, v['after'], lang)}"
            + _opt(v, extra, f"{colon}{v.get(extra)}"))


def _target(target: Value, lang: int) -> str:
    """``taxpayer:9144…`` as ``纳税人 9144…`` (kinds of :data:`vocab.AUDIT_TARGETS`; others as written)."""
    kind, sep, rest = str(target).partition(":")
    return f"{vocab.AUDIT_TARGETS[kind][lang]} {rest}" if sep and kind in vocab.AUDIT_TARGETS else str(target)


def _scan_review(v: Values, lang: int) -> str:
    """A reviewed scan: the fields the reviewer corrected (old → new) and the rules the row still fails."""
    zh = lang == 0
    sep, empty = ("；", "（空）") if zh else ("; ", "(empty)")
    fixes = [f"{_label(vocab.INVOICE_FIELDS, f, lang)} {o or empty} → {n or empty}"
             for f, o, n in zip(_list(v, "fields"), _list(v, "olds"), _list(v, "news"), strict=False)]
    said = [("更正 " if zh else "corrected ") + sep.join(fixes) if fixes else ("未更正" if zh else "nothing corrected")]
    fails = [_label(vocab.VALIDATION_RULES, r, lang) for r in _list(v, "still_fails")]
    if fails:
        said.append(("仍未通过校验：" if zh else "still fails: ") + sep.join(fails) + ("，待再次复核" if zh else
                                                                                  ", left open"))
    else:
        said.append("已导入" if zh else "loaded")
    return sep.join(said)


#: code → (中文, English) wording of its values
WORDINGS: dict[str, tuple[_Words, _Words]] = {
    # --- import report notes (loaders) ---
    "header_row_found": (
        lambda v: f"标题行在第 {v['row']} 行，跳过其上 {v['skipped']} 行（{_names(v, 'shown', '；') or '空行'}）",
        lambda v: f"header found on row {v['row']}; {v['skipped']} row(s) above it skipped "
                  f"({_names(v, 'shown', '; ') or 'blank'})"),
    "total_rows_skipped": (
        lambda v: f"跳过末尾合计行 {v['rows']} 行" + _opt(v, "shown", f"（{v.get('shown')!r}）"),
        lambda v: f"{v['rows']} total row(s) at the end skipped" + _opt(v, "shown", f" ({v.get('shown')!r})")),
    "stray_quote": (
        lambda v: f"第 {v['line']} 行的引号在本行没有闭合（会吞掉其后各行）：从该行起不按引号读取",
        lambda v: f"line {v['line']} opens a quote that does not close on its row (it would swallow the rows "
                  "after it): read from that line on without quotes"),
    "einvoice_files_read": (
        lambda v: f"读取电子发票文件 {_num(v, 'read')} 个，拒收 {_num(v, 'refused')} 个",
        lambda v: f"{v['read']} e-invoice file(s) read, {v['refused']} refused"),
    "scans_held": (
        lambda v: f"{v['count']} 张扫描件待复核（见“扫描件复核”页）",
        lambda v: f"{v['count']} scanned invoice(s) held for review (fapiao workbench: OCR review)"),
    "sheets_read": (
        lambda v: f"已读取工作表：{_names(v, 'sheets', ', ')}",
        lambda v: f"sheets read: {_names(v, 'sheets', ', ')}"),
    "sheet_empty": (lambda v: "空表，已跳过", lambda v: "empty, skipped"),
    "sheet_item_lines": (
        lambda v: "货物明细，按发票代码和号码并入发票",
        lambda v: "item lines, joined to the invoices by code and number"),
    "sheet_no_header": (lambda v: "未找到发票标题行，已跳过", lambda v: "no invoice header found, skipped"),
    "cells_right_ignored": (
        lambda v: "标题行最后一列右侧的单元格已忽略",
        lambda v: "cells right of the header's last column were ignored"),
    "item_sheet_refused": (
        lambda v: f"货物明细表无法识别，各行均已拒收：{v['error']}",
        lambda v: f"item lines refused: {v['error']}"),
    "file_counts": (
        lambda v: _counts(v, 0) + _opt(v, "quarantine", f"（隔离文件：{v.get('quarantine')}）"),
        lambda v: _counts(v, 1) + _opt(v, "quarantine", f" (quarantine: {v.get('quarantine')})")),
    "evidence_kept": (
        lambda v: f"原件已作为证据存档：{v['folder']}",
        lambda v: f"originals kept as evidence in {v['folder']}"),
    # --- audit event details (workbench services) ---
    "import_counts": (
        lambda v: _counts(v, 0) + f"，重复跳过 {_num(v, 'skipped_identical')} 行",
        lambda v: _counts(v, 1) + f", skipped as identical {_num(v, 'skipped_identical')}"),
    "load_counts": (
        lambda v: _counts(v, 0) + f"，纳税人 {_num(v, 'taxpayers')} 户",
        lambda v: _counts(v, 1) + f", taxpayers {_num(v, 'taxpayers')}"),
    "roles_granted": (
        lambda v: "角色：" + "、".join(_label(vocab.ROLES, r, 0) for r in _list(v, "roles")),
        lambda v: "roles: " + ", ".join(_label(vocab.ROLES, r, 1) for r in _list(v, "roles"))),
    "tier_changed": (
        lambda v: _change_to(vocab.TIERS, v, 0, "reason"), lambda v: _change_to(vocab.TIERS, v, 1, "reason")),
    "case_status_changed": (
        lambda v: _change_to(vocab.CASE_STATUSES, v, 0, "note"),
        lambda v: _change_to(vocab.CASE_STATUSES, v, 1, "note")),
    "case_assigned": (
        lambda v: f"{v.get('before') or '-'} → {v['after']}",
        lambda v: f"{v.get('before') or '-'} → {v['after']}"),
    "sign_in_refused": (
        lambda v: _label(SIGN_IN_REASONS, v["reason"], 0),
        lambda v: _label(SIGN_IN_REASONS, v["reason"], 1)),
    "export_rows": (
        lambda v: f"{str(v['format']).upper()}，{_num(v, 'rows')} 行",
        lambda v: f"{v['format']}, {_num(v, 'rows')} rows"),
    "detect_counts": (
        lambda v: f"发现 {_num(v, 'rings')} 个团伙，使用已核实标签 {_num(v, 'labels')} 个",
        lambda v: f"{_num(v, 'rings')} rings, labels used {_num(v, 'labels')}"),
    "fast_update_counts": (
        lambda v: f"重新评分 {_num(v, 'affected')} 户，新增高风险 {_num(v, 'high')} 户",
        lambda v: f"{_num(v, 'affected')} taxpayers re-scored, {_num(v, 'high')} newly high"),
    "token_issued": (
        lambda v: f"用户 {v['user']}，角色 {_label(vocab.ROLES, v['role'], 0)}",
        lambda v: f"user {v['user']}, role {_label(vocab.ROLES, v['role'], 1)}"),
    "appeal_against": (
        lambda v: f"纳税人 {v['tax_id']}，申诉对象：{v['against']}",
        lambda v: f"taxpayer {v['tax_id']} against {v['against']}"),
    "detection_run": (
        lambda v: f"发现 {_num(v, 'rings')} 个团伙，评分 {_num(v, 'scored')} 户",
        lambda v: f"{_num(v, 'rings')} rings, {_num(v, 'scored')} taxpayers scored"),
    "disposition_recorded": (
        lambda v: f"{v['tax_id']}：{_label(vocab.DISPOSITIONS, v['label'], 0)}" + _opt(v, "note", f"：{v.get('note')}"),
        lambda v: f"{v['tax_id']}: {_label(vocab.DISPOSITIONS, v['label'], 1)}" + _opt(v, "note", f": {v.get('note')}")),
    "sign_in_wait": (
        lambda v: f"{_num(v, 'seconds')} 秒后可再试" + _opt(v, "client", f"（客户端 {v.get('client')}）"),
        lambda v: f"retry in {_num(v, 'seconds')} s" + _opt(v, "client", f" (client {v.get('client')})")),
    "audit_head_signed": (
        lambda v: f"审计链头已签名（第 {_num(v, 'seq')} 条事件）",
        lambda v: f"head signed at event {_num(v, 'seq')}"),
    "delivery_attempt": (
        lambda v: f"{_label(vocab.ALERT_CHANNELS, v['channel'], 0)} {v['target']} 第 {v['attempt']} 次"
                  + _opt(v, "of", f"（共 {v.get('of')} 次）") + _opt(v, "error", f"：{v.get('error')}"),
        lambda v: f"{v['channel']} {v['target']} attempt {v['attempt']}" + _opt(v, "of", f"/{v.get('of')}")
                  + _opt(v, "error", f": {v.get('error')}")),
    "alert_rule_changed": (lambda v: _rule_change(v, 0), lambda v: _rule_change(v, 1)),
    "demo_wiped": (
        lambda v: "清除：" + ("、".join(p for p in (_opt(v, "users", f"用户 {v.get('users', 0):,} 个"),
                                                  _opt(v, "cases", f"案件 {v.get('cases', 0):,} 件")) if p) or "无"),
        lambda v: "wiped: " + (", ".join(p for p in (_opt(v, "users", f"{v.get('users')} users"),
                                                    _opt(v, "cases", f"{v.get('cases')} cases")) if p) or "nothing")),
    "alert_raised": (
        lambda v: f"{_label(vocab.ALERT_RULES, v['rule'], 0)} → {v['user']}：{_target(v['subject'], 0)}",
        lambda v: f"{_label(vocab.ALERT_RULES, v['rule'], 1)} -> {v['user']}: {_target(v['subject'], 1)}"),
    "scan_review": (lambda v: _scan_review(v, 0), lambda v: _scan_review(v, 1)),
}


@dataclass(frozen=True)
class Note:
    """A code (a key of :data:`WORDINGS`) and the values its wording needs; ``file`` / ``sheet`` place it."""

    code: str
    values: Values = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in WORDINGS:
            raise ValueError(f"note code {self.code!r} has no wording in graph.core.notes.WORDINGS")

    def within(self, **context: str) -> Note:
        """This note placed in a file or sheet (an outer place goes first)."""
        return Note(self.code, {**context, **self.values})

    def zh(self) -> str:
        """The note in Chinese."""
        return _prefix(self.values, 0) + WORDINGS[self.code][0](self.values)

    def en(self) -> str:
        """The note in English."""
        return _prefix(self.values, 1) + WORDINGS[self.code][1](self.values)

    def __str__(self) -> str:
        return self.en()

    def as_dict(self) -> dict[str, Any]:
        """``{"code": …, <values>}``, as stored (report.json, audit details)."""
        return {"code": self.code, **self.values}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: object) -> Note | None:
        """The note a stored ``{"code": …}`` object holds; None for anything else (old text, unknown codes)."""
        if not isinstance(data, dict) or data.get("code") not in WORDINGS:
            return None
        return cls(str(data["code"]), {str(k): v for k, v in data.items() if k != "code"})

    @classmethod
    def from_json(cls, text: str) -> Note | None:
        """The note stored as JSON text; None for text that is not one (e.g. written before notes had codes)."""
        if not text.startswith("{"):
            return None
        try:
            return cls.from_dict(json.loads(text))
        except ValueError:
            return None


def _prefix(values: Values, lang: int) -> str:
    return "".join(PLACES[k][lang].format(values[k]) for k in PLACES if values.get(k) not in (None, ""))


def _text(note: Note | str, lang: int) -> str:
    found = note if isinstance(note, Note) else Note.from_json(note)
    if found is None:
        return str(note)
    try:
        return found.zh() if lang == 0 else found.en()
    except (KeyError, TypeError, ValueError):   # stored values its wording cannot use: shown as stored
        return str(note) if isinstance(note, str) else found.to_json()


def zh_text(note: Note | str) -> str:
    """A note in Chinese: a :class:`Note` or its stored JSON worded, any other text as it was written."""
    return _text(note, 0)


def en_text(note: Note | str) -> str:
    """A note in English: a :class:`Note` or its stored JSON worded, any other text as it was written."""
    return _text(note, 1)
