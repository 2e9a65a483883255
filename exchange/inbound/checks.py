"""Checks of a tabular upload on arrival (C-07): the items it may carry and the forbidden categories.

Entered application data is what the contractor collected for the ward, so its columns must be among the
contract's items it may collect (``collected_items``, 収集させる項目) and must not reveal a forbidden category
(特記事項5, ``policies.screening``). A table that fails is kept sealed and quarantined with the reason, never
silently accepted and never deleted: the ward decides. The record count is kept for the register and the inbox;
the program's plugin may add findings on the records themselves (``check_returned_records``, S1 申請型).

Runs in a worker thread on the plain content held in memory (it never touches the disk).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from policies.errors import PolicyRefusal
from policies.hookspecs import Record
from policies.jp import normalise_name
from policies.screening import ScreeningPolicy, ValueScreener, screen_columns
from policies.tabular import open_table_stream, table_kind

# Findings for the returned records: called with the header and all records (application data is small).
RecordCheck = Callable[[tuple[str, ...], Sequence[Record]], list[str]]


@dataclass(frozen=True)
class Verdict:
    """``problems`` quarantine the upload; ``findings`` are the plugin's remarks on records it still keeps."""

    records: int | None = None
    problems: tuple[str, ...] = ()
    findings: tuple[str, ...] = field(default_factory=tuple)


def _outside(header: Sequence[str], collected: Sequence[str]) -> list[str]:
    allowed = {normalise_name(item) for item in collected}
    return [column for column in header if normalise_name(column) not in allowed]


def _header_problems(header: tuple[str, ...], collected: Sequence[str], policy: ScreeningPolicy) -> list[str]:
    problems: list[str] = []
    if not any(header):
        return ["見出し行（1行目の項目名）がありません。"]
    if not collected:
        problems.append("この契約には収集させる項目が登録されていないため、入力データを受け付けられません。")
    elif outside := _outside(header, collected):
        shown = "、".join(f"「{column}」" for column in outside)
        problems.append(
            f"契約で収集させる項目にない項目があります: {shown}（収集できる項目: {'、'.join(collected)}）。"
        )
    try:
        screen_columns(header, policy)
    except PolicyRefusal as refusal:
        problems.append(refusal.reason)
    return problems


def check_table(
    content: bytes,
    file_name: str,
    collected: Sequence[str],
    policy: ScreeningPolicy,
    record_check: RecordCheck | None = None,
) -> Verdict:
    """Read the table in ``content`` (CSV in UTF-8/BOM/CP932, or XLSX) and check it; never raises for the
    file's own faults, which become problems."""
    kind = table_kind(Path(file_name))
    if kind is None:
        return Verdict(problems=("表形式（CSV・Excel）のファイルではありません。",))
    records: list[Record] = []
    try:
        with open_table_stream(io.BytesIO(content), kind) as table:
            header = table.header
            problems = _header_problems(header, collected, policy)
            screener = ValueScreener(policy, header)
            for row in table:
                screener.check(row, table.record)
                records.append(dict(zip(header, row, strict=False)))
    except PolicyRefusal as refusal:
        return Verdict(records=len(records) or None, problems=(refusal.reason,))
    findings = record_check(header, records) if record_check is not None and not problems else []
    return Verdict(records=len(records), problems=tuple(problems), findings=tuple(findings))
