"""The ``patron`` console script: Django's management commands beside Patron's own.

``patron clv ...`` and ``patron score FILE ...`` run the analytics engine on a plain file and need no
database, so they skip Django's start-up entirely.
"""

from __future__ import annotations

import os
import sys


def _is_file_scoring(argv: list[str]) -> bool:
    """Tell whether ``patron score`` was given a transactions file rather than asked to score the CRM."""
    return len(argv) > 2 and argv[1] == "score" and not argv[2].startswith("-")


def main(argv: list[str] | None = None) -> int:
    """Run a Patron command and return its exit status."""
    argv = list(sys.argv if argv is None else argv)
    if len(argv) > 1 and (argv[1] == "clv" or _is_file_scoring(argv)):
        from patron.analytics.cli import main as analytics_main

        return analytics_main(argv[1:])
    if len(argv) > 1 and argv[1] == "demo":
        # The demo picks its own database, which must be known before Django reads its settings.
        from patron.demo import prepare_environment

        prepare_environment(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
