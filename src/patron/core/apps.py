from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "patron.core"
    label = "core"
    verbose_name = _("Users, teams and access")

    def ready(self) -> None:
        """Connect the receivers that set up each new database connection."""
        from patron.core import db  # noqa: F401  (reads PostgreSQL timestamps with psycopg's C loader)
