"""API routes for interactions and tickets."""

from ninja import Router

from patron.core.api import crud_routes
from patron.engagement import schemas, services

router = Router()

interactions = Router(tags=["interactions"])
crud_routes(
    interactions,
    services.interactions,
    out=schemas.InteractionOut,
    create_in=schemas.InteractionIn,
    update_in=schemas.InteractionPatch,
    filters=schemas.InteractionFilters,
    bulk=True,
)

tickets = Router(tags=["tickets"])
crud_routes(
    tickets,
    services.tickets,
    out=schemas.TicketOut,
    create_in=schemas.TicketIn,
    update_in=schemas.TicketPatch,
    filters=schemas.TicketFilters,
)

router.add_router("/interactions", interactions)
router.add_router("/tickets", tickets)
