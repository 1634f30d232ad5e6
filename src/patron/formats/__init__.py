"""Locale formats that complete Django's own (``FORMAT_MODULE_PATH``); Django fills in whatever is not set here."""
