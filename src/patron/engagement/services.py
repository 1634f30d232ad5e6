"""Services of this app."""
