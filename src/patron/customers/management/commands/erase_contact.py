"""``patron erase_contact CONTACT_ID``: erase a contact's personal data (GDPR right to erasure), after confirmation."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from patron.customers import services
from patron.dataio.services import import_user
from patron.errors import PatronError


class Command(BaseCommand):
    help = (
        "Erase a contact's personal data for good (GDPR right to erasure), as the contact's Erase page does: "
        "managers and admins only; the erasure itself stays in the contact's history."
    )
    #: Tests hand the confirmation in through call_command(stdin=...).
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare CONTACT_ID and the options."""
        parser.add_argument("contact_id", type=int, help="the contact to erase")
        parser.add_argument("--user", help="the username erasing, recorded in the history (default: the first admin)")
        parser.add_argument("--yes", action="store_true", help="erase without asking for confirmation")

    def handle(self, *args: Any, **options: Any) -> None:
        """Show the contact, ask for confirmation unless --yes, and erase it through the service."""
        stdin = options.get("stdin") or sys.stdin
        try:
            user = import_user(options["user"])
            contact = services.contacts.get(user, options["contact_id"], "change")
            if not services.can_erase(user):
                raise CommandError(_("Only managers and admins may erase a contact."))
            if contact.erased_at:
                self.stdout.write(_("Contact %(id)s was already erased.") % {"id": contact.pk})
                return
            if not options["yes"]:
                self._confirm(stdin, contact)
            with transaction.atomic():
                services.erase_contact(user, contact.pk)
        except PatronError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            _("Erased the personal data of contact %(id)s (by %(user)s, kept in its history).")
            % {"id": contact.pk, "user": user.username}
        )

    def _confirm(self, stdin: Any, contact: Any) -> None:
        """Ask for "yes" on the terminal; refuse without one rather than erase unasked."""
        if not stdin.isatty():
            raise CommandError(_("Erasing cannot be undone: pass --yes to erase without being asked."))
        self.stdout.write(
            _("Erase %(name)s (contact %(id)s of %(account)s)? This cannot be undone. Type yes to confirm: ")
            % {"name": contact.name, "id": contact.pk, "account": contact.account.name},
            ending="",
        )
        self.stdout.flush()
        if stdin.readline().strip().lower() != "yes":
            raise CommandError(_("Nothing was erased."))
