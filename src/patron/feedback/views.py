"""Survey answers as the pages read them; they are shown on the account, contact and ticket pages."""

from __future__ import annotations

from patron.core.services import Records
from patron.feedback import services
from patron.feedback.models import SurveyResponse

# The feedback services are being written alongside these pages; until they land, plain Records do the same job.
survey_responses: Records = (
    getattr(services, "survey_responses", None)
    or getattr(services, "responses", None)
    or Records(SurveyResponse, orderings=("responded_at",))
)
