"""API routes for accounts, contacts, products, orders, order lines and subscriptions."""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from patron.core.api import crud_routes, current_user
from patron.customers import schemas, services

router = Router()

accounts = Router(tags=["accounts"])


@accounts.get(
    "/{int:pk}/timeline",
    response=schemas.TimelineOut,
    summary="An account's timeline: interactions, tickets, orders and survey answers, newest first",
    operation_id="account_timeline",
)
def account_timeline(request: HttpRequest, pk: int, params: schemas.TimelineQuery = Query(...)) -> Any:
    """Return the newest timeline items before ``before``, and where the next, older ones start."""
    items = services.account_timeline(
        current_user(request),
        pk,
        kinds=params.kinds,
        channels=params.channels,
        before=params.before,
        after=services.TimelinePosition.parse(params.cursor) if params.cursor else None,
        limit=params.limit,
    )
    rows = [{**vars(item), "id": item.record.pk} for item in items]
    full = len(items) == params.limit
    return {"items": rows, "next_cursor": services.TimelinePosition.of(items[-1]).token() if full else None}


crud_routes(
    accounts,
    services.accounts,
    out=schemas.AccountOut,
    create_in=schemas.AccountIn,
    update_in=schemas.AccountPatch,
    filters=schemas.AccountFilters,
)

contacts = Router(tags=["contacts"])


@contacts.get(
    "/{int:pk}/export",
    response=schemas.ContactData,
    summary="Everything held about a contact (GDPR data subject access request)",
    operation_id="contact_data",
)
def contact_data(request: HttpRequest, pk: int) -> Any:
    """Return the contact, its account's name, its interactions, tickets, survey answers and audit history."""
    return services.contact_data(current_user(request), pk)


@contacts.post(
    "/{int:pk}/erase",
    response=schemas.ContactOut,
    summary="Erase a contact's personal data (GDPR right to erasure); managers and admins only",
    operation_id="erase_contact",
)
def erase_contact(request: HttpRequest, pk: int) -> Any:
    """Anonymise the contact and the free text about them, keeping a record of the erasure."""
    return services.erase_contact(current_user(request), pk)


crud_routes(
    contacts,
    services.contacts,
    out=schemas.ContactOut,
    create_in=schemas.ContactIn,
    update_in=schemas.ContactPatch,
    filters=schemas.ContactFilters,
)

products = Router(tags=["products"])
crud_routes(
    products,
    services.products,
    out=schemas.ProductOut,
    create_in=schemas.ProductIn,
    update_in=schemas.ProductPatch,
    filters=schemas.ProductFilters,
)

orders = Router(tags=["orders"])
crud_routes(
    orders,
    services.orders,
    out=schemas.OrderOut,
    create_in=schemas.OrderIn,
    update_in=schemas.OrderPatch,
    filters=schemas.OrderFilters,
    bulk=True,
)

order_lines = Router(tags=["orders"])
crud_routes(
    order_lines,
    services.order_lines,
    out=schemas.OrderLineOut,
    create_in=schemas.OrderLineIn,
    update_in=schemas.OrderLinePatch,
    filters=schemas.OrderLineFilters,
)

subscriptions = Router(tags=["subscriptions"])
crud_routes(
    subscriptions,
    services.subscriptions,
    out=schemas.SubscriptionOut,
    create_in=schemas.SubscriptionIn,
    update_in=schemas.SubscriptionPatch,
    filters=schemas.SubscriptionFilters,
)

router.add_router("/accounts", accounts)
router.add_router("/contacts", contacts)
router.add_router("/products", products)
router.add_router("/orders", orders)
router.add_router("/order-lines", order_lines)
router.add_router("/subscriptions", subscriptions)
