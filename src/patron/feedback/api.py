"""API routes for survey responses."""

from ninja import Router

from patron.core.api import crud_routes
from patron.feedback import schemas, services

router = Router()

survey_responses = Router(tags=["survey responses"])
crud_routes(
    survey_responses,
    services.survey_responses,
    out=schemas.SurveyResponseOut,
    create_in=schemas.SurveyResponseIn,
    update_in=schemas.SurveyResponsePatch,
    filters=schemas.SurveyResponseFilters,
    bulk=True,
)

router.add_router("/survey-responses", survey_responses)
