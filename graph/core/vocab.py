"""The one vocabulary: every coded value the packages store, compare or show, with its zh/en labels.

Each table maps a stored key to ``(中文, English)``; iterating a table gives its keys in order, so
``tier in TIERS`` and ``for kind in IDENTIFIER_KINDS`` read as before. Pages translate with
``workbench.ui.i18n.term``; algorithms and loaders use the keys (and the Chinese label in evidence text).

Examples
--------
>>> list(TIERS)
['low', 'medium', 'high']
>>> zh(IDENTIFIER_KINDS, "bank_account")
'银行账户'
>>> set(BLUE_STATUSES) <= set(INVOICE_STATUSES)
True
"""

from __future__ import annotations

Labels = dict[str, tuple[str, str]]

#: risk tiers, lowest first
TIERS: Labels = {
    "low": ("低风险", "low"),
    "medium": ("中风险", "medium"),
    "high": ("高风险", "high"),
}

#: invoice status (发票状态)
INVOICE_STATUSES: Labels = {
    "normal": ("正常", "normal"),
    "void": ("作废", "void"),
    "red": ("红冲", "red-letter"),
    "red_offset": ("已红冲", "offset by red"),
    "out_of_control": ("失控", "out of control"),
    "abnormal": ("异常", "abnormal"),
}

#: taxpayer status (纳税人状态)
TAXPAYER_STATUSES: Labels = {
    "normal": ("正常", "normal"),
    "abnormal": ("非正常户", "abnormal"),
    "deregistered": ("已注销", "deregistered"),
    "absconded": ("走逃（失联）", "absconded"),
}

#: statuses of a blue (positive) invoice that still counts as trade: not void, not itself a red-letter one
BLUE_STATUSES: tuple[str, ...] = ("normal", "out_of_control", "abnormal", "red_offset")

#: invoice kind (发票种类)
INVOICE_KINDS: Labels = {
    "special": ("增值税专用发票", "special VAT invoice"),
    "ordinary": ("增值税普通发票", "ordinary VAT invoice"),
    "digital_special": ("数电专票", "digital special VAT invoice"),
    "digital_ordinary": ("数电普票", "digital ordinary VAT invoice"),
}

#: kinds of identifier a taxpayer can share with another, (:Taxpayer)-[:HAS]->(:Identifier {kind})
IDENTIFIER_KINDS: Labels = {
    "legal_rep": ("法定代表人", "legal representative"),
    "phone": ("电话", "phone"),
    "address": ("地址", "address"),
    "bank_account": ("银行账户", "bank account"),
}

#: kinds of ring a detection run writes (Ring.kind)
RING_KINDS: Labels = {
    "cycle": ("时序环路", "temporal cycle"),
    "community": ("紧密社区", "community"),
    "shared_identity": ("共用身份", "shared identity"),
    "fan_hub": ("扇入扇出枢纽", "fan-in/fan-out hub"),
    "fan_out": ("集中对外开票", "fan-out burst"),
    "fan_in": ("集中取得进项", "fan-in burst"),
    "scatter_gather": ("分散-汇集", "scatter-gather"),
    "gather_scatter": ("汇集-分散", "gather-scatter"),
    "layered": ("分层转开", "layered chain"),
    "pass_through": ("过票中转", "pass-through hub"),
    "split_burst": ("拆分开票", "split invoicing burst"),
    "repeat_pairs": ("多户短期重复开票", "repeated invoicing with many partners"),
    "low_amount": ("双方异常小额往来", "invoices far below both parties' usual amounts"),
}

#: case status (案件状态)
CASE_STATUSES: Labels = {
    "open": ("新立案", "open"),
    "investigating": ("调查中", "investigating"),
    "confirmed": ("已证实", "confirmed"),
    "closed_no_action": ("结案（无须处理）", "closed, no action"),
}

#: an investigator's disposition of a flagged taxpayer or ring (feedback for the supervised model)
DISPOSITIONS: Labels = {
    "confirmed": ("确认虚开", "confirmed fraud"),
    "false_positive": ("误报", "false positive"),
}

#: appeal status (申诉状态), what an appeal is against, and its outcome
APPEAL_STATUSES: Labels = {
    "received": ("已受理", "received"),
    "under_review": ("复核中", "under review"),
    "answered": ("已答复", "answered"),
    "closed": ("已结束", "closed"),
}
APPEAL_AGAINST: Labels = {
    "flag": ("风险标记", "flag"),
    "tier": ("风险等级", "tier"),
    "case": ("案件结论", "case"),
}
APPEAL_OUTCOMES: Labels = {
    "upheld": ("申诉成立", "upheld"),
    "partially_upheld": ("部分成立", "partially upheld"),
    "rejected": ("申诉不成立", "rejected"),
}

#: alert rules (提醒规则): what an alert is about; channels it is delivered by
ALERT_RULES: Labels = {
    "new_high": ("新增高风险纳税人", "taxpayer newly in high"),
    "first_run": ("首次检测", "first detection run: one summary of its high-risk taxpayers"),
    "new_ring": ("关注对象出现新团伙", "new ring touching a watched taxpayer or an open case"),
    "case_overdue": ("案件超期", "case past its due date"),
    "appeal_overdue": ("申诉超期未答复", "appeal past its due date"),
    "burst": ("关注对象集中开票", "large burst from a watched taxpayer"),
    "case_assigned": ("案件指派给我", "case assigned to me"),
    "appeal_filed": ("收到新申诉", "appeal filed"),
    "verify_void": ("查验作废或红字发票", "verify call for a void or red-letter invoice"),
}
ALERT_STANDING: Labels = {
    "fast": ("快速更新（暂定）", "fast update (provisional)"),
    "unconfirmed": ("快速更新，完整检测未确认", "fast update, not confirmed by the exact run"),
    "retraction": ("撤回快速更新的提醒", "withdraws a fast update's alert"),
}
ALERT_CHANNELS: Labels = {
    "inbox": ("站内提醒", "inbox"),
    "email": ("电子邮件", "e-mail"),
    "webhook": ("Webhook", "webhook"),
}
ALERT_DELIVERY_STATES: Labels = {
    "pending": ("待发送", "pending"),
    "sent": ("已发送", "sent"),
    "failed": ("发送失败", "failed"),
}

#: workbench roles (auth.ROLES)
ROLES: Labels = {
    "investigator": ("调查员", "investigator"),
    "supervisor": ("审核主管", "supervisor"),
    "analyst": ("分析员", "analyst"),
    "admin": ("管理员", "admin"),
}

#: audit event actions (AuditEvent.action); unknown actions show their code
AUDIT_ACTIONS: Labels = {
    "sign_in": ("登录", "sign in"),
    "sign_in_failed": ("登录失败", "sign-in failed"),
    "sign_in_throttled": ("登录受限（多次失败）", "sign-in throttled"),
    "user_add": ("新增用户", "user added"),
    "user_roles": ("修改角色", "roles changed"),
    "user_password": ("修改密码", "password changed"),
    "user_enable": ("启用用户", "user enabled"),
    "user_disable": ("停用用户", "user disabled"),
    "token_create": ("创建接口令牌", "API token created"),
    "token_revoke": ("吊销接口令牌", "API token revoked"),
    "load": ("导入数据", "data loaded"),
    "import_data": ("导入数据", "data imported"),
    "import_failed": ("导入失败", "import failed"),
    "detect": ("运行检测", "detection run"),
    "run_detection_failed": ("检测失败", "detection failed"),
    "fast_update": ("快速更新（暂定）", "fast update (provisional)"),
    "demo_reset": ("重置演示数据", "demo reset"),
    "tier_override": ("调整风险等级", "tier override"),
    "assign": ("分派调查员", "assignment"),
    "case_open": ("立案", "case opened"),
    "case_read": ("查看案件", "case read"),
    "case_denied": ("拒绝访问案件", "case access denied"),
    "case_attach": ("案件添加对象", "case attachment"),
    "case_note": ("案件备注", "case note"),
    "case_status": ("案件状态变更", "case status"),
    "case_assign": ("案件分派", "case assigned"),
    "case_export": ("导出案卷", "case file exported"),
    "disposition": ("记录处理结论", "disposition"),
    "appeal_record": ("登记申诉", "appeal recorded"),
    "received": ("受理申诉", "appeal received"),
    "data_export": ("导出数据", "data export"),
    "report": ("生成期间报告", "period report"),
    "ocr_review": ("扫描件复核", "OCR review"),
    "ocr_review_reject": ("扫描件退回", "OCR review rejected"),
    "audit_verify": ("校验审计日志", "audit verified"),
    "audit_adopt": ("接管审计链", "audit chain adopted"),
    "alert_raise": ("发出提醒", "alert raised"),
    "alert_deliver": ("提醒已送达", "alert delivered"),
    "alert_deliver_retry": ("提醒投递失败（将重试）", "alert delivery failed, will retry"),
    "alert_deliver_failed": ("提醒投递失败", "alert delivery failed"),
    "alert_read": ("提醒已读", "alert read"),
    "alert_rule": ("修改提醒规则", "alert rule changed"),
    "alert_subscription": ("修改提醒订阅", "alert subscription changed"),
    "saved_search_save": ("保存筛选条件", "search saved"),
    "saved_search_open": ("打开已存筛选", "saved search opened"),
    "saved_search_delete": ("删除已存筛选", "saved search deleted"),
}


def zh(table: Labels, key: str) -> str:
    """The Chinese label of ``key`` in ``table`` (unknown keys pass through)."""
    return table[key][0] if key in table else key


def en(table: Labels, key: str) -> str:
    """The English label of ``key`` in ``table`` (unknown keys pass through)."""
    return table[key][1] if key in table else key

#: validation rules of the loader (loaders.rules: their severity and checks; docs/validation-rules.md)
VALIDATION_RULES: Labels = {
    "missing_field": ("必填字段为空", "a required field is empty"),
    "bad_value": ("无法解析的数值或格式", "value cannot be parsed (not a number / malformed row)"),
    "tax_id_format": ("纳税人识别号格式错误（应为18位统一社会信用代码）",
        "tax id is not an 18-character unified social credit code"),
    "tax_id_check": ("统一社会信用代码校验位不符或为旧式税号",
        "credit-code check character does not match, or a legacy id is used after 2018"),
    "invoice_number_format": ("发票号码应为8位或20位数字", "invoice number must be 8 or 20 digits"),
    "invoice_code_format": ("发票代码应为10或12位数字（数电发票无代码）",
        "invoice code must be 10 or 12 digits, and empty for 20-digit digital invoices"),
    "digital_year": ("数电发票号码前两位与开票年份不符",
        "first two digits of a digital invoice number differ from the issue year"),
    "date_unparseable": ("开票日期无法识别", "issue date cannot be read"),
    "date_future": ("开票日期在未来", "issue date is in the future"),
    "rate_for_date": ("税率在开票日期不适用", "tax rate is not allowed on the issue date"),
    "total_mismatch": ("金额＋税额≠价税合计", "amount + tax does not equal the total"),
    "tax_mismatch": ("税额与金额×税率不符（超出容差）", "tax differs from amount × rate beyond the tolerance"),
    "red_not_negative": ("红字发票金额应为负数", "a red-letter invoice must have negative amounts"),
    "red_ref_missing": ("红字发票未找到对应蓝字发票", "the blue original of a red-letter invoice is missing"),
    "red_exceeds_original": ("红冲金额超过原蓝字发票", "red-letter amounts exceed the original invoice"),
    "over_limit": ("金额超过最高开票限额", "amount is over the seller's per-invoice limit"),
    "same_party": ("销方与购方为同一纳税人", "seller and buyer are the same taxpayer"),
    "duplicate_key": ("发票重复（同一代码号码，内容不同）", "duplicate invoice: same code and number with different content"),
    "name_conflict": ("同一税号对应多个名称", "one tax id appears with several names"),
    "status_invalid": ("发票状态无效", "invoice status is not a known value"),
    "ocr_review": ("扫描件识别结果待人工复核",
        "scanned invoice held for review (low OCR confidence or a fixable rule failed)"),
}

#: the fields of an invoice row as the forms name them (the interchange format's columns)
INVOICE_FIELDS: Labels = {
    "invoice_number": ("发票号码", "invoice number"),
    "invoice_code": ("发票代码", "invoice code"),
    "issue_date": ("开票日期", "issue date"),
    "seller_tax_id": ("销方税号", "seller tax id"),
    "seller_name": ("销方名称", "seller name"),
    "buyer_tax_id": ("购方税号", "buyer tax id"),
    "buyer_name": ("购方名称", "buyer name"),
    "amount": ("金额", "amount"),
    "tax_amount": ("税额", "tax"),
    "total_amount": ("价税合计", "total"),
    "tax_rate": ("税率", "rate"),
}

#: kinds of the objects audit events and alerts name (``taxpayer:9144…``), as the trail shows them
AUDIT_TARGETS: Labels = {
    "user": ("用户", "user"), "taxpayer": ("纳税人", "taxpayer"), "case": ("案件", "case"), "appeal": ("申诉", "appeal"),
    "run": ("检测", "run"), "table": ("数据表", "table"), "token": ("令牌", "token"),
    "saved_search": ("保存的筛选", "saved search"), "original": ("原件", "original"), "file": ("文件", "file"),
    "ring": ("团伙", "ring"), "alert": ("提醒", "alert"), "rule": ("提醒规则", "alert rule"), "report": ("报告", "report"),
    "store": ("数据库", "store"), "period": ("期间", "period"),
}
