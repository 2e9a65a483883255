"""Screening for the categories a contractor must not collect (特記事項 5, control C-07).

The contract terms forbid, unless the ward approves (甲の承諾): (1) 思想・信条・宗教, (2) facts that cause
social discrimination (門地, 本籍地 …), (3) crime (犯罪歴, 前科 …), (4) other matters the ward designates. We add
the 要配慮個人情報 health terms (病歴 and the like) as a fourth, ward-designated category.

Choice of default terms (documented because it decides what gets quarantined): the defaults must not refuse the
reference scenarios' legitimate items. S1 pays 障害者加算 and collects 障害者手帳 / 結核治療 evidence,
and S4's 世帯構成 records 乳幼児・障害者等の有無, so ``障害``, ``手帳``, ``治療`` and ``保護`` are NOT default
terms; 保護決定理由 contains none of the terms either. Matching is on NFKC-folded column names
(substring), on values only when the route opts in (``scan_values``), because free text such as addresses
hits terms by accident more often than column names do. A ward that needs stricter screening adds terms per
route; a legitimate exception is carried by a :class:`ScreeningApproval` naming the items (columns) it covers:
an approval is for an item, as the ward's approval document lists items, so approving 宗教 for one contract
does not also pass 支持政党 of the same category.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from policies.errors import PolicyRefusal, RefusalCode
from policies.jp import normalise_name


@dataclass(frozen=True)
class ForbiddenCategory:
    """One forbidden category: a stable ``code``, a Japanese ``label`` and the terms that reveal it."""

    code: str
    label: str
    terms: tuple[str, ...]


DEFAULT_CATEGORIES: tuple[ForbiddenCategory, ...] = (
    ForbiddenCategory("belief", "思想・信条・宗教", ("思想", "信条", "宗教", "信仰", "宗派", "支持政党")),
    ForbiddenCategory(
        "discrimination",
        "社会的差別の原因となる事実",
        ("門地", "本籍", "出自", "人種", "民族", "社会的身分", "被差別"),
    ),
    ForbiddenCategory("crime", "犯罪に関する事項", ("犯罪", "前科", "前歴", "逮捕", "受刑", "刑事事件", "非行歴")),
    ForbiddenCategory("health", "要配慮個人情報（病歴等）", ("病歴", "病名", "傷病名", "既往歴", "診断名")),
)


@dataclass(frozen=True)
class ScreeningApproval:
    """The ward's written approval (甲の承諾) to pass the listed items (column names) of one contract."""

    document_ref: str
    approver: str
    approved_on: date
    items: frozenset[str]


@dataclass(frozen=True)
class ScreeningPolicy:
    """What to screen for on one route: the categories, whether values are scanned, and the approvals."""

    categories: tuple[ForbiddenCategory, ...] = DEFAULT_CATEGORIES
    scan_values: bool = False
    approvals: tuple[ScreeningApproval, ...] = ()

    def approval_for(self, column: str) -> ScreeningApproval | None:
        """The approval that covers ``column`` (compared NFKC-folded, like the terms), or None."""
        folded = normalise_name(column)
        for approval in self.approvals:
            if folded in {normalise_name(item) for item in approval.items}:
                return approval
        return None


@dataclass(frozen=True)
class ScreeningHit:
    """A term of ``category`` found in ``column`` (in a value of data record ``record`` when not None)."""

    category: str
    term: str
    column: str
    record: int | None = None


def _find(policy: ScreeningPolicy, text: str) -> list[tuple[ForbiddenCategory, str]]:
    folded = normalise_name(text)
    return [(category, term) for category in policy.categories for term in category.terms if term in folded]


# Where staff register an approval; the same words in the intake's refusal and the import's.
HOW_TO_APPROVE = (
    "区の承諾がある場合は、職員画面の契約のページ（「要配慮項目の承諾」）または "
    "`handover sensitive approve` で承諾（文書番号・承諾者・承諾日・項目）を登録してください。"
)


def describe_hits(hits: Iterable[ScreeningHit], categories: Sequence[ForbiddenCategory] = DEFAULT_CATEGORIES) -> str:
    """「本籍地」（社会的差別の原因となる事実: 本籍）… for a refusal message."""
    labels = {category.code: category.label for category in categories}
    return "、".join(dict.fromkeys(f"「{hit.column}」（{labels[hit.category]}: {hit.term}）" for hit in hits))


def _refuse_unapproved(policy: ScreeningPolicy, hits: Sequence[ScreeningHit], where: str) -> None:
    refused = [hit for hit in hits if policy.approval_for(hit.column) is None]
    if not refused:
        return
    raise PolicyRefusal(
        RefusalCode.FORBIDDEN_CATEGORY,
        f"{where}収集・提供が禁止されている事項に該当する項目があります: {describe_hits(refused, policy.categories)}。"
        + HOW_TO_APPROVE,
    )


def find_hits(columns: Iterable[str], policy: ScreeningPolicy) -> tuple[ScreeningHit, ...]:
    """Every forbidden-category term in the column names, approved or not (for the import's check)."""
    return tuple(
        ScreeningHit(category.code, term, column) for column in columns for category, term in _find(policy, column)
    )


def screen_columns(columns: Iterable[str], policy: ScreeningPolicy) -> tuple[ScreeningHit, ...]:
    """Check column names; raise :class:`PolicyRefusal` on an unapproved hit, else return the approved hits."""
    hits = find_hits(columns, policy)
    _refuse_unapproved(policy, hits, "")
    return hits


class ValueScreener:
    """Scans the values of each row when the policy asks for it (a no-op otherwise)."""

    def __init__(self, policy: ScreeningPolicy, columns: Sequence[str]) -> None:
        self._policy = policy
        self._columns = columns
        # First approved hit per (category, term, column): enough for the register, flat in memory.
        self._hits: dict[tuple[str, str, str], ScreeningHit] = {}

    @property
    def hits(self) -> tuple[ScreeningHit, ...]:
        """Approved value hits seen so far, one per category, term and column."""
        return tuple(self._hits.values())

    def check(self, row: Sequence[str], record: int) -> None:
        """Raise :class:`PolicyRefusal` if a value of ``row`` (data record ``record``) reveals an unapproved term."""
        if not self._policy.scan_values:
            return
        hits = [
            ScreeningHit(category.code, term, column, record)
            for column, value in zip(self._columns, row, strict=False)
            if value
            for category, term in _find(self._policy, value)
        ]
        _refuse_unapproved(self._policy, hits, f"{record}件目のデータの値に")
        for hit in hits:
            self._hits.setdefault((hit.category, hit.term, hit.column), hit)
