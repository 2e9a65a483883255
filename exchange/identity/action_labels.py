"""Japanese names for what the audit log records (C-11): every authorisation ``Action`` and every ``AuditAction``.

The audit page and its CSV show these, never the stored keys; ``tests/exchange/web/test_compliance_audit.py``
checks that every member of both enums has a label, so a new action cannot reach the page as an English key.
"""

from __future__ import annotations

from typing import Final

from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import Action

ACTION_LABELS: Final[dict[str, str]] = {
    Action.PACKAGE_VIEW: "データの閲覧",
    Action.PACKAGE_DOWNLOAD: "データのダウンロード",
    Action.PACKAGE_ACKNOWLEDGE: "受領確認",
    Action.PASSWORD_PICKUP: "パスワードの受取り",
    Action.INBOUND_UPLOAD: "データの返送（アップロード）",
    Action.STAFF_VIEW: "職員画面の閲覧",
    Action.DESIGNATION_CHANGE: "取扱者の届出変更",
    Action.SUBCONTRACT_APPROVE: "再委託の承認",
    Action.PACKAGE_REVOKE: "提供の取消し",
    Action.PACKAGE_RESEND: "再送",
    Action.CERTIFICATE_SUBMIT: "消去証明書の提出",
    Action.COMPLIANCE_VIEW: "監査画面の閲覧",
    Action.ACCOUNTS_VIEW: "アカウント一覧の閲覧",
    Action.ACCOUNT_DISABLE: "アカウントの停止",
    Action.ACCOUNT_ENABLE: "アカウントの再開",
    Action.ACCOUNT_UNLOCK: "ロックの解除",
    Action.ACCOUNT_END_SESSIONS: "セッションの終了",
    Action.API_TOKEN_REVOKE: "APIトークンの失効",
    Action.CERTIFICATE_REVIEW: "消去証明書の受理・差戻し",
    Action.ACCESS_REVIEW: "アクセスログ分析結果の確認",
    AuditAction.PAGE_VIEW: "画面の表示",
    AuditAction.CSRF_REJECTED: "不正な要求の拒否（CSRF）",
    AuditAction.ACCESS_NETWORK: "許可外ネットワークからの接続",
    AuditAction.LOGIN_PASSWORD_OK: "パスワード確認",
    AuditAction.LOGIN_SUCCEEDED: "ログイン",
    AuditAction.LOGIN_FAILED: "ログイン失敗",
    AuditAction.LOGIN_TOTP_FAILED: "確認コードの誤り（ログイン時）",
    AuditAction.LOGIN_SETUP_TOTP_FAILED: "確認コードの誤り（設定時）",
    AuditAction.LOGIN_LOCKED: "ロック中のログイン",
    AuditAction.LOGIN_NETWORK_DENIED: "許可外ネットワークからのログイン",
    AuditAction.ACCOUNT_SETUP_COMPLETED: "アカウント設定の完了",
    AuditAction.LOGOUT: "ログアウト",
    AuditAction.INVITATION_ACCEPTED: "招待コードの受付",
    AuditAction.INVITATION_FAILED: "招待コードの誤り",
    AuditAction.INVITATION_NETWORK_DENIED: "許可外ネットワークからの招待コード",
    AuditAction.API_LOCKED: "API：ロック中の要求",
    AuditAction.API_AUTH_FAILED: "API：認証失敗",
    AuditAction.API_NETWORK: "API：許可外ネットワーク",
    AuditAction.API_PACKAGES_LIST: "API：データ一覧の取得",
    AuditAction.API_PACKAGE_VIEW: "API：データ情報の取得",
    AuditAction.PACKAGE_DOWNLOAD_RESUME: "ダウンロードの再開",
    AuditAction.PACKAGE_DOWNLOAD_END: "ダウンロードの終了",
    AuditAction.INBOUND_INFECTED: "ウイルス検出による返送の拒否",
    AuditAction.DESIGNATION_ADD: "取扱者の届出",
    AuditAction.DESIGNATION_REVOKE: "取扱者の届出取消し",
    AuditAction.DESIGNATION_SYNC: "取扱者変更の反映失敗",
    AuditAction.COMPLIANCE_REPORT_DOWNLOAD: "帳票のダウンロード",
    AuditAction.COMPLIANCE_CERTIFICATE_DOWNLOAD: "ハブ消去証明書のダウンロード",
    Action.INBOUND_VIEW: "返送データの閲覧",
    Action.INBOUND_FETCH: "返送データの取出し",
    Action.INBOUND_DECIDE: "隔離された返送データの解除・破棄",
    Action.RETURN_PASSWORD: "返送フォルダのパスワードの受取り",
    Action.QUARANTINE_RELEASE: "隔離ファイルの再受付",
    Action.QUARANTINE_DISCARD: "隔離ファイルの破棄",
    Action.QUARANTINE_DOWNLOAD: "隔離ファイルの取出し",
    Action.INSPECTION_RECORD: "検査結果の記録",
    Action.INCIDENT_MANAGE: "事故の管理",
    Action.INCIDENT_REPORT: "事故の報告",
    Action.PRINTLOG_REASON: "印刷ログの理由の記入",
    Action.NOTICES_DELIVER: "封入通知書の納品の記録",
    Action.NOTICES_CONFIRM: "納品の確認",
    Action.PAPER_HANDOVER: "紙・対面の受渡しの記録",
    Action.SENSITIVE_APPROVE: "要配慮項目の承諾の記録",
}
OUTCOME_LABELS: Final[dict[str, str]] = {"allowed": "許可", "denied": "拒否", "failed": "失敗"}


def action_label(action: str) -> str:
    """The Japanese name; a key no longer in either enum (an old row) is shown generically, never in English."""
    return ACTION_LABELS.get(action, "その他の操作")
