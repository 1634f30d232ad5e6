"""Business logic for campaigns, leads and deals: the only place they are written.

Every stage a deal enters is kept as a :class:`DealStageChange` (also the one it starts in); a deal that is
won or lost needs a reason and gets a closing date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.utils import timezone

from patron.core.models import User
from patron.core.services import Draft, Records
from patron.errors import Invalid
from patron.pipeline.models import Campaign, Deal, DealStage, DealStageChange, Lead

CLOSED_STAGES = (DealStage.WON, DealStage.LOST)


class DealRecords(Records[Deal]):
    """Deals: owned by their creator unless told otherwise, with a stage history and a reason when closed."""

    def prepare(self, user: User, drafts: Sequence[Draft[Deal]]) -> None:
        """Apply the stage rules: a reason and a closing date when won or lost, neither once reopened."""
        super().prepare(user, drafts)
        today = timezone.localdate()
        for d in drafts:
            deal = d.obj
            if d.created and "owner_id" not in d.data:
                deal.owner_id = user.pk
            if not d.moved("stage"):
                continue
            if deal.stage in CLOSED_STAGES:
                if not (deal.close_reason or "").strip():
                    message = f"close_reason: say why the deal was {deal.stage}."
                    raise d.fail(Invalid(message, field="close_reason"))
                if deal.closed_on is None:
                    deal.closed_on = today
            elif d.before.get("stage") in CLOSED_STAGES:
                if "closed_on" not in d.data:
                    deal.closed_on = None
                if "close_reason" not in d.data:
                    deal.close_reason = ""

    def write_related(self, user: User, drafts: Sequence[Draft[Deal]]) -> set[int]:
        """Record the stage each new deal starts in and each stage a deal moves to."""
        now = timezone.now()
        entered = [
            DealStageChange(deal=d.obj, stage=d.obj.stage, entered_at=now, changed_by_id=user.pk)
            for d in drafts
            if d.moved("stage")
        ]
        DealStageChange.objects.bulk_create(entered, batch_size=1000)
        return set()


campaigns = Records(Campaign, search_fields=("name",), orderings=("starts_on", "name", "cost", "created_at"))
leads = Records(Lead, search_fields=("name", "company", "email"), orderings=("name", "created_at", "updated_at"))
deals = DealRecords(
    Deal,
    search_fields=("name",),
    orderings=("name", "amount", "created_at", "updated_at"),
    related=("account",),
)


def move_deal(user: User, deal_id: int, stage: str, *, close_reason: str = "", closed_on: date | None = None) -> Deal:
    """Move a deal to ``stage`` (recorded in its stage history); won and lost need ``close_reason``."""
    data: dict[str, object] = {"stage": stage}
    if close_reason:
        data["close_reason"] = close_reason
    if closed_on:
        data["closed_on"] = closed_on
    return deals.update(user, deal_id, data)
