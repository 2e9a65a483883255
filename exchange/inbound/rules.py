"""What a contract lets its contractor upload: the kinds, the file suffixes of each kind, and a size limit.

This is contract data (``[contracts.uploads]`` in the import TOML, ``contracts.upload_rules``): a contract that
says nothing accepts every kind with its default suffixes up to the portal's limit. A contract can only narrow
the defaults, never add a suffix: the defaults are the formats the hub knows how to check (tables are read
against the contract's items; scans and PDFs are only scanned for viruses).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from exchange.inbound.uploads import KINDS
from ledger.models.contracts import Contract

_SCANS: Final = (".pdf", ".jpg", ".jpeg", ".png", ".tif", ".tiff")
DEFAULT_SUFFIXES: Final[Mapping[str, tuple[str, ...]]] = {
    "entered_data": (".csv", ".xlsx"),
    "evidence_scan": _SCANS,
    "print_log": (".csv", ".xlsx", ".tsv", ".txt"),
    "payment_data": (".csv", ".xlsx"),
    "deletion_certificate": _SCANS,
}
# Kinds whose tables are read on arrival: the items a contractor collects for the ward.
TABULAR_CHECKED: Final = frozenset({"entered_data"})
MIB: Final = 1024 * 1024


@dataclass(frozen=True)
class UploadRules:
    """Accepted ``suffixes`` per kind (a kind not in it is refused) and the size ``limit`` in bytes."""

    suffixes: Mapping[str, frozenset[str]]
    limit: int

    def describe(self) -> str:
        """What is accepted, in Japanese, for the form and for every refusal."""
        kinds = "、".join(f"{KINDS[kind]}（{'・'.join(sorted(s))}）" for kind, s in self.suffixes.items())
        return f"{kinds}、1ファイル{self.limit // MIB} MBまで"

    def kind_refusal(self, kind: str) -> str:
        return f"この契約では「{KINDS.get(kind, kind)}」は提出できません。受け付けるもの: {self.describe()}。"


def normalise_suffix(suffix: str) -> str:
    return "." + suffix.strip().lower().lstrip(".")


def rules_for(contract: Contract, ceiling: int) -> UploadRules:
    """The contract's rules, never above the portal's own ``ceiling`` (bytes)."""
    stored = contract.upload_rules or {}
    kinds = stored.get("kinds")
    suffixes: dict[str, frozenset[str]] = {}
    if isinstance(kinds, dict):
        for kind, listed in kinds.items():
            allowed = DEFAULT_SUFFIXES.get(str(kind), ())
            if isinstance(listed, list):
                # Only the defaults are ever accepted, whatever the stored rules say.
                chosen = frozenset(normalise_suffix(str(s)) for s in listed) & frozenset(allowed)
            else:
                chosen = frozenset(allowed)
            if chosen:
                suffixes[str(kind)] = chosen
    else:
        suffixes = {kind: frozenset(found) for kind, found in DEFAULT_SUFFIXES.items()}
    max_mb = stored.get("max_mb")
    limit = min(ceiling, max_mb * MIB) if isinstance(max_mb, int) and max_mb > 0 else ceiling
    ordered = {kind: suffixes[kind] for kind in KINDS if kind in suffixes}
    return UploadRules(ordered, limit)
