"""Contract facts shaped like the seed scenarios, shared by the rule tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from policies.rules import ConnectorFacts, ContractFacts, SubcontractApproval

S1_ITEMS = frozenset({"郵便番号", "住所", "氏名", "保護の種類及び程度", "対象期間", "保護決定理由", "振込先口座情報"})
APPROVED = SubcontractApproval("生活福祉課長", datetime(2026, 4, 1, 9), "福生第45号")

CONTRACT = ContractFacts(
    public_id="K-2026-001",
    program_code="seikatsu-hogo-tsuika",
    start=date(2026, 3, 1),
    end=date(2027, 3, 31),
    allowed_items=S1_ITEMS,
    allowed_channels=frozenset({"lgwan-sftp", "portal", "dvd"}),
    connectors=(ConnectorFacts("lgwan-asp", "jp"),),
    password_delay=timedelta(hours=24),
)
PRINTER = ContractFacts(
    public_id="K-2026-001-S1",
    program_code="seikatsu-hogo-tsuika",
    start=date(2026, 4, 1),
    end=date(2027, 3, 31),
    allowed_items=S1_ITEMS - {"振込先口座情報"},
    allowed_channels=frozenset({"lgwan-sftp", "dvd"}),
    connectors=(ConnectorFacts("lgwan-asp", "JP"),),
    parent=CONTRACT,
    subcontract_approval=APPROVED,
)
