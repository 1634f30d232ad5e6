"""Business logic for survey responses: the only place they are written."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Q
from django.utils.translation import gettext as _

from patron.core.models import User
from patron.core.services import Draft
from patron.customers.services import AccountPartRecords
from patron.errors import Invalid
from patron.feedback.models import SurveyResponse


class SurveyResponseRecords(AccountPartRecords[SurveyResponse]):
    """Survey responses: at least one score; the contact and the ticket they follow must be the account's own."""

    same_account = ("contact", "ticket")

    def prepare(self, user: User, drafts: Sequence[Draft[SurveyResponse]]) -> None:
        """Refuse a response without any score, naming the first score field (the model's rule has no field)."""
        super().prepare(user, drafts)
        for d in drafts:
            if d.obj.nps is None and d.obj.csat is None and d.obj.ces is None:
                raise d.fail(Invalid("nps: " + _("give at least one of nps, csat or ces."), field="nps"))


survey_responses = SurveyResponseRecords(
    SurveyResponse,
    search_fields=("comment",),
    orderings=("responded_at", "created_at"),
    related=("account",),
)


def forget_contact_comments(contact_id: int) -> None:
    """Blank the comments of a contact's survey responses, also in their audit history (GDPR erasure)."""
    theirs = SurveyResponse.objects.filter(contact_id=contact_id).values("id")
    SurveyResponse.history.filter(Q(id__in=theirs) | Q(contact_id=contact_id)).update(comment="")
    SurveyResponse.objects.filter(contact_id=contact_id).update(comment="")
