"""A contractor certificate's NIST SP 800-88 App. G facts, as the tests fill them in (portal form or Submission)."""

from __future__ import annotations

FACTS = {
    "media_type": "SSD",
    "media_serial": "S3Z9NB0K123456",
    "method_detail": "全領域を1回上書き",
    "tool": "見本消去ツール 3.2",
    "verification_method": "全領域の読取り確認",
    "verification_result": "残存データなし",
}
