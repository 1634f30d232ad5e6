"""API routes for campaigns, leads and deals."""

from typing import Any

from django.http import HttpRequest
from ninja import Router

from patron.core.api import crud_routes, current_user
from patron.pipeline import schemas, services

router = Router()

campaigns = Router(tags=["campaigns"])
crud_routes(
    campaigns,
    services.campaigns,
    out=schemas.CampaignOut,
    create_in=schemas.CampaignIn,
    update_in=schemas.CampaignPatch,
    filters=schemas.CampaignFilters,
)

leads = Router(tags=["leads"])
crud_routes(
    leads,
    services.leads,
    out=schemas.LeadOut,
    create_in=schemas.LeadIn,
    update_in=schemas.LeadPatch,
    filters=schemas.LeadFilters,
)

deals = Router(tags=["deals"])


@deals.post(
    "/{int:pk}/stage",
    response=schemas.DealDetailOut,
    summary="Move a deal to another stage (won and lost need a reason)",
    operation_id="move_deal",
)
def move_deal(request: HttpRequest, pk: int, payload: schemas.DealStageIn) -> Any:
    """Move the deal and record the stage in its history."""
    return services.move_deal(
        current_user(request), pk, payload.stage, close_reason=payload.close_reason, closed_on=payload.closed_on
    )


crud_routes(
    deals,
    services.deals,
    out=schemas.DealOut,
    detail=schemas.DealDetailOut,
    create_in=schemas.DealIn,
    update_in=schemas.DealPatch,
    filters=schemas.DealFilters,
)

router.add_router("/campaigns", campaigns)
router.add_router("/leads", leads)
router.add_router("/deals", deals)
