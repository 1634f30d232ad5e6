"""Patron: the customer-value CRM."""

__version__ = "0.1.0"
