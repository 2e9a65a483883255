"""Minimisation (C-07): project a tabular file to exactly the items one recipient may receive.

Source columns are matched to the contract's items by name after NFKC folding and through aliases (a small
built-in table plus the contract's own). The output header uses the canonical item names, in the contract's
order, and the output keeps the source's format and CSV encoding (BOM included) unless the recipient needs
another encoding. A present column that is neither allowed nor configured to be dropped is refused rather than
dropped silently: the ward must notice that its extract carries more than the contract allows.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from policies.errors import PolicyRefusal, RefusalCode
from policies.hookspecs import Derivation
from policies.jp import normalise_name
from policies.screening import ScreeningHit, ScreeningPolicy, ValueScreener, screen_columns
from policies.tabular import TableFormat, create_table, open_table, table_kind

# Alias → canonical item; keys are compared after NFKC folding and case folding.
BUILTIN_ALIASES: Mapping[str, str] = {
    "〒": "郵便番号",
    "郵便": "郵便番号",
    "名前": "氏名",
    "お名前": "氏名",
    "誕生日": "生年月日",
    "電話": "電話番号",
    "TEL": "電話番号",
    "口座情報": "振込先口座情報",
    "振込口座": "振込先口座情報",
    "受付番号": "申請受付番号",
}


def _key(name: str) -> str:
    return normalise_name(name).casefold()


@dataclass(frozen=True)
class RecipientItems:
    """The items one recipient may receive on one contract.

    ``allowed`` are canonical item names in output order; ``optional`` ones may be absent from the source;
    ``drop`` names columns that may be present and are removed (e.g. 振込先口座情報 for a printer);
    ``aliases`` maps the contract's own alternative names to canonical ones; ``file_types`` are the suffixes
    (without the dot) this recipient may receive, non-tabular ones (``pdf``) passing unchanged;
    ``output_encoding`` overrides the source's CSV encoding.
    """

    allowed: tuple[str, ...]
    optional: frozenset[str] = frozenset()
    drop: frozenset[str] = frozenset()
    aliases: Mapping[str, str] = field(default_factory=dict)
    file_types: frozenset[str] = frozenset({"csv", "xlsx"})
    output_encoding: str | None = None

    def canonical(self, name: str) -> str:
        """The canonical item for a source column name (the folded name itself when no alias applies)."""
        table = {_key(alias): item for alias, item in BUILTIN_ALIASES.items()}
        table.update({_key(alias): item for alias, item in self.aliases.items()})
        table.update({_key(item): item for item in (*self.allowed, *self.drop)})
        return table.get(_key(name), normalise_name(name))


@dataclass(frozen=True)
class ColumnPlan:
    """Which source columns feed the output (``indices``, in output order), which are dropped or blank."""

    columns: tuple[str, ...]
    indices: tuple[int, ...]
    dropped: tuple[str, ...]
    blank: tuple[int, ...]


@dataclass(frozen=True)
class MinimiseResult:
    """What :func:`minimise` wrote: ``records`` is None for a non-tabular file passed unchanged."""

    records: int | None
    columns: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    source_format: TableFormat | None = None
    output_format: TableFormat | None = None
    screening_hits: tuple[ScreeningHit, ...] = ()
    derived: tuple[str, ...] = ()


def _quoted(names: Sequence[str]) -> str:
    return "、".join(f"「{name}」" for name in names)


def plan_columns(header: Sequence[str], items: RecipientItems) -> ColumnPlan:
    """Match ``header`` to ``items`` or raise :class:`PolicyRefusal` naming the offending columns."""
    positions: dict[str, list[int]] = {}
    blank: list[int] = []
    for index, name in enumerate(header):
        if normalise_name(name):
            positions.setdefault(items.canonical(name), []).append(index)
        else:
            blank.append(index)
    duplicated = [header[i] for places in positions.values() if len(places) > 1 for i in places]
    if duplicated:
        raise PolicyRefusal(
            RefusalCode.DUPLICATE_COLUMNS,
            f"同じ項目を表す列が複数あります: {_quoted(duplicated)}。どちらを提供するか決められません。",
        )
    drop = {items.canonical(name) for name in items.drop}
    extra = [header[p[0]] for item, p in positions.items() if item not in items.allowed and item not in drop]
    if extra:
        raise PolicyRefusal(
            RefusalCode.EXTRA_COLUMNS,
            f"提供が認められていない列があります: {_quoted(extra)}。"
            "抽出条件を見直すか、契約の提供項目を確認してください。",
        )
    missing = [item for item in items.allowed if item not in positions and item not in items.optional]
    if missing:
        raise PolicyRefusal(
            RefusalCode.MISSING_COLUMNS,
            f"必要な列がありません: {_quoted(missing)}。",
        )
    present = [item for item in items.allowed if item in positions]
    return ColumnPlan(
        columns=tuple(present),
        indices=tuple(positions[item][0] for item in present),
        dropped=tuple(header[p[0]] for item, p in positions.items() if item in drop and item not in items.allowed),
        blank=tuple(blank),
    )


# The program's ``derive_columns`` hook: computed columns offered for a header in canonical item names.
Deriver = Callable[[tuple[str, ...]], Sequence[Derivation]]


def minimise(
    source: Path,
    out: Path,
    items: RecipientItems,
    *,
    encoding: str | None = None,
    screening: ScreeningPolicy | None = None,
    derive: Deriver | None = None,
) -> MinimiseResult:
    """Write to ``out`` the part of ``source`` that ``items`` allows, row by row; return the record count.

    ``encoding`` forces the source CSV encoding (per route); ``screening`` defaults to the default forbidden
    categories and is applied to the output columns (what leaves the ward). ``derive`` (the program's
    ``derive_columns`` hook) offers computed columns for the source header; those the recipient may receive
    are computed from the whole source record and placed like source columns. On refusal ``out`` is removed,
    so a partial file never lingers.
    """
    policy = screening if screening is not None else ScreeningPolicy()
    suffix = source.suffix.lower().lstrip(".")
    if suffix not in items.file_types:
        raise PolicyRefusal(
            RefusalCode.FILE_TYPE,
            f"この提供先には「{suffix or '拡張子なし'}」形式のファイルを提供できません"
            f"（認められている形式: {'、'.join(sorted(items.file_types))}）。",
        )
    if table_kind(source) is None:
        shutil.copyfile(source, out)
        return MinimiseResult(records=None)
    try:
        return _project(source, out, items, encoding, policy, derive)
    except BaseException:
        out.unlink(missing_ok=True)
        raise


def _derivations(canonical: tuple[str, ...], items: RecipientItems, derive: Deriver | None) -> list[Derivation]:
    """The offered derivations that give the recipient an allowed item the source does not carry."""
    if derive is None:
        return []
    return [d for d in derive(canonical) if set(d.columns) & set(items.allowed) and not set(d.columns) & {*canonical}]


@dataclass(frozen=True)
class _Derived:
    """The derivations in use, and which of their computed values (``keep``) the recipient may receive."""

    derivations: Sequence[Derivation]
    canonical: tuple[str, ...]
    keep: tuple[int, ...]

    def values(self, row: Sequence[str], where: str) -> list[str]:
        record = dict(zip(self.canonical, row, strict=True))
        computed: list[str] = []
        for derivation in self.derivations:
            try:
                computed.extend(derivation.compute(record))
            except ValueError as exc:
                raise PolicyRefusal(
                    RefusalCode.MALFORMED, f"{where}の{_quoted(derivation.columns)}を計算できません: {exc}。"
                ) from None
        return [computed[i] for i in self.keep]


def _project(
    source: Path,
    out: Path,
    items: RecipientItems,
    encoding: str | None,
    policy: ScreeningPolicy,
    derive: Deriver | None,
) -> MinimiseResult:
    with open_table(source, encoding=encoding) as table:
        canonical = tuple(items.canonical(name) for name in table.header)
        derivations = _derivations(canonical, items, derive)
        offered = [column for d in derivations for column in d.columns]
        # A derived column the recipient may not receive is not handed over (nor reported as dropped).
        keep = tuple(i for i, column in enumerate(offered) if column in items.allowed)
        derived = _Derived(derivations, canonical, keep)
        plan = plan_columns((*table.header, *(offered[i] for i in keep)), items)
        hits = screen_columns(plan.columns, policy)
        values = ValueScreener(policy, plan.columns)
        source_format = table.format
        output_format = TableFormat(source_format.kind, items.output_encoding or source_format.encoding)
        width = len(table.header)
        with create_table(out, output_format, plan.columns) as writer:
            for row in table:
                if len(row) != width:
                    raise PolicyRefusal(
                        RefusalCode.ROW_LENGTH,
                        f"{table.location}の列数が{len(row)}で、見出しの列数{width}と一致しません。",
                    )
                if any(row[i] for i in plan.blank):
                    raise PolicyRefusal(
                        RefusalCode.EXTRA_COLUMNS,
                        f"{table.location}に、見出しのない列の値があります。",
                    )
                if keep:
                    row = [*row, *derived.values(row, table.location)]
                projected = [row[i] for i in plan.indices]
                values.check(projected, table.record)
                writer.write(projected)
    return MinimiseResult(
        records=writer.records,
        columns=plan.columns,
        dropped=plan.dropped,
        source_format=source_format,
        output_format=output_format,
        screening_hits=hits + values.hits,
        derived=tuple(offered[i] for i in keep),
    )
