"""The hub's deletion certificate: a signed JSON record of one retention sweep (NIST SP 800-88 Rev.1 App. G).

Appendix G's sample certificate asks for: the person who performed the sanitization, the media (what: here
packages, their files, sizes and hashes), where they were (each connector and location), the method (here:
logical delete, delete + purge from the Box trash, and cryptographic erase of the package password), the tool
and version, the verification performed and its result, and a validation by a second person. The document is
canonical JSON (``ledger.canonical``), signed with Ed25519 by the ledger's signing key (a detached signature
over exactly those bytes), so anyone with the published verifier key can check it without our code.

Validation by a staff member happens later, by design (a person approves what the system did); it is recorded
on the certificate row and in the register, and shown on the PDF, but it is not part of the signed bytes.
"""

from __future__ import annotations

import base64
import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.canonical import canonical_json
from ledger.models.contracts import Contract
from ledger.models.packages import Package
from ledger.models.retention import HubDeletionCertificate, HubDeletionItem
from ledger.tlog.checkpoint import SigningKey, VerifierKey
from ledger.wareki import fiscal_year

FORMAT = "handover/hub-deletion-certificate/v1"

CRYPTO_ERASE = {
    "target": "sealed-password",
    "method": "crypto-erase",
    "method_ja": "暗号消去（パッケージのパスワード及びそのデータ鍵を破棄）",
    "detail": (
        "The package is an AES-256 ZIP whose only password was stored sealed (AES-256-GCM, own data key). "
        "Destroying the sealed password destroys its wrapped data key; the master key alone cannot recover it."
    ),
    "verification": "sealed_password IS NULL in the database",
}


def tool_version() -> str:
    try:
        return importlib.metadata.version("handover")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


TOOL_VERSION = tool_version()  # looked up once, at import: it reads the installed packages' metadata


def certificate_number(certificate: HubDeletionCertificate, issued_at: datetime) -> str:
    return f"HDC-{fiscal_year(issued_at)}-{certificate.id:05d}"


@dataclass(frozen=True)
class ErasedPackage:
    item: HubDeletionItem
    package: Package
    contract: Contract


def _package_entry(erased: ErasedPackage) -> dict[str, Any]:
    package, item = erased.package, erased.item
    files = package.content.get("files", []) if isinstance(package.content, dict) else []
    return {
        "package_id": package.public_id,
        "contract": {"id": erased.contract.public_id, "code": erased.contract.code, "name": erased.contract.name},
        "zip_name": package.zip_name,
        "size": package.size,
        "sha256": package.sha256,
        "files": files if isinstance(files, list) else [],
        "retention_due_at": item.due_at,
        "erased_at": item.erased_at,
        "copies": [*item.copies, CRYPTO_ERASE],
    }


def build_document(
    certificate: HubDeletionCertificate,
    number: str,
    erased: Sequence[ErasedPackage],
    issued_at: datetime,
    verifier: VerifierKey,
) -> dict[str, Any]:
    """The certificate's content; every copy in ``erased`` must already be confirmed gone."""
    return {
        "format": FORMAT,
        "number": number,
        "certificate_id": certificate.public_id,
        "title_ja": "電子データ消去証明書（ハブ）",
        "sweep_started_at": certificate.opened_at,
        "issued_at": issued_at,
        "performed_by": {"type": "system", "name": "handover retention sweep"},
        "tool": {"name": "handover", "version": TOOL_VERSION},
        "packages": [_package_entry(item) for item in erased],
        "verification": {
            "performed": "each copy was looked up again after deletion (connector exists() is false)",
            "result": "all copies confirmed gone",
        },
        "validation": {"status": "pending", "note": "validated later by a staff member; see the register"},
        "signature": {"algorithm": "Ed25519", "vkey": verifier.vkey},
    }


@dataclass(frozen=True)
class SignedDocument:
    document: bytes
    signature: str  # base64

    @property
    def text(self) -> str:
        return self.document.decode("utf-8")


def sign_document(document: dict[str, Any], key: SigningKey) -> SignedDocument:
    data = canonical_json(document)
    return SignedDocument(data, base64.b64encode(key.sign(data)).decode("ascii"))
