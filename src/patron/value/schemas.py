"""Schemas of this app."""
