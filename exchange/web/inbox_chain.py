"""The chain 丙→乙→甲 on the contractor portal: a contractor's designated people see what its approved
sub-contractors uploaded, and may take it (``/inbound/{id}/download``, recorded like the ward's fetch)."""

from __future__ import annotations

from aiohttp import web

from exchange.identity.authorisation import Action, decide
from exchange.inbound import inbox
from exchange.web.context import page
from exchange.web.guards import my_contracts


async def chain_page(request: web.Request) -> web.StreamResponse:
    async with page(request) as ctx:
        mine = await my_contracts(ctx)
        # Decided per parent contract with the same rule as the download, so the list shows only what may be taken.
        parents = [
            contract.id for contract, scope in mine if decide(ctx.principal, Action.INBOUND_FETCH, scope).allowed
        ]
        children = await inbox.sub_contract_ids(ctx.session, parents) if parents else []
        found = await inbox.items(ctx.session, contract_ids=children) if children else []
        return ctx.render("inbox_chain.html", {"items": found})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/inbound/subcontracts", chain_page)
