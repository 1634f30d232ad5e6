"""API routes of this app."""

from ninja import Router

router = Router()
