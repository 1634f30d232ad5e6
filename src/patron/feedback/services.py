"""Business logic for survey responses: the only place they are written."""

from __future__ import annotations

from django.db.models import Q

from patron.customers.services import AccountPartRecords
from patron.feedback.models import SurveyResponse


class SurveyResponseRecords(AccountPartRecords[SurveyResponse]):
    """Survey responses: the contact and the ticket they follow must be the account's own."""

    same_account = ("contact", "ticket")


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
