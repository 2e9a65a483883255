"""Jurisdiction (C-14): personal data goes only to endpoints where Japanese law applies.

The one test of a declared jurisdiction. It is applied where connectors are configured (``exchange.settings``),
built and checked (``connectors.registry`` and ``handover connectors check``, through
``connectors.base.Jurisdiction.is_japan``) and used for a route (:func:`policies.rules.check_jurisdiction`).
"""

from __future__ import annotations

from typing import Final

DOMESTIC: Final = "jp"


def is_domestic(country: str) -> bool:
    """True when ``country`` (an ISO 3166 code, in any case) is Japan; an empty, undeclared one is not."""
    return country.casefold() == DOMESTIC
