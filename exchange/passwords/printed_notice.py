"""The printed password notice (パスワード通知書): one A4 page handed over or sent by registered mail.

It carries the password of one package and what the handler needs to open it, but never any of the data.
Japanese text uses embedded IPAex TrueType fonts (Debian ``fonts-ipaexfont``) so that it prints and extracts
correctly without viewer-side fonts; the password is set in Courier, whose glyphs tell ambiguous characters
apart and whose text extracts byte for byte.

The PDF is returned as bytes: it holds a secret, so the caller streams it to the user and does not store it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Final

from ledger.documents.letters import Detail, Letter, ValueStyle, render_letter

INSTRUCTIONS: Final = (
    "本通知書のパスワードは、別途お届けする暗号化ZIPファイル（データ）を開くためのものです。"
    "データは本通知書とは別の機会・別の経路でお届けします。",
    "ZIPファイルは 7-Zip で開いてください（Windows標準の機能ではAES-256暗号化ZIPを開けません）。"
    "展開時にパスワードを求められたら、上記のパスワードを大文字・小文字を区別して入力してください。",
    "パスワードは契約書で届け出た取扱者以外に知らせないでください。複写・撮影・転記はしないでください。",
    "作業完了後、本通知書は契約の定めに従い速やかに返却するか、裁断等により復元できない方法で廃棄し、"
    "その旨を報告してください。",
    "本通知書を紛失した場合や、第三者に知られたおそれがある場合は、直ちに発行元へ連絡してください。",
)


@dataclass(frozen=True)
class PasswordNotice:
    issued_on: date
    issuer: str
    contractor: str
    handler: str
    contract_name: str
    package_id: str
    password: str = field(repr=False)


def render_password_notice(notice: PasswordNotice) -> bytes:
    """Return the notice as a one-page A4 PDF."""
    return render_letter(
        Letter(
            issued_on=notice.issued_on,
            addressees=(f"{notice.contractor}　御中", f"取扱者　{notice.handler}　様"),
            issuer=notice.issuer,
            title="パスワード通知書",
            lead="下記の契約に基づき提供するデータのパスワードを通知します。",
            details=(
                Detail("契約名", notice.contract_name),
                Detail("パッケージID", notice.package_id, ValueStyle.IDENTIFIER),
                Detail("パスワード", notice.password, ValueStyle.SECRET),
            ),
            steps_heading="取扱いについて",
            steps=INSTRUCTIONS,
            subject=f"パッケージ {notice.package_id}",
        )
    )
