"""Deals as the pages read them; they are shown on the account 360 page."""

from __future__ import annotations

from patron.core.services import Records
from patron.pipeline import services
from patron.pipeline.models import Deal

# The pipeline services are being written alongside these pages; until they land, plain Records do the same job.
deals: Records = getattr(services, "deals", None) or Records(
    Deal, search_fields=("name",), orderings=("expected_close",)
)
