"""API routes for accounts, contacts, products, orders and subscriptions."""

from ninja import Router

from patron.core.api import crud_routes
from patron.customers import schemas, services

router = Router()

accounts = Router(tags=["accounts"])
crud_routes(
    accounts,
    services.accounts,
    out=schemas.AccountOut,
    create_in=schemas.AccountIn,
    update_in=schemas.AccountPatch,
    filters=schemas.AccountFilters,
)
router.add_router("/accounts", accounts)
