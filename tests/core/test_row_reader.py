"""List rows read with just the fields an answer shows (core.services.RowReader) behave as records Django built."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patron.core.services import RowReader
from patron.customers.models import Contact
from patron.engagement.models import Interaction
from tests.factories import AccountFactory, ContactFactory, InteractionFactory

pytestmark = pytest.mark.django_db


def test_a_row_holds_its_own_fields_and_its_references_named_fields_in_one_query(admin_user):
    contact = ContactFactory(account=AccountFactory(owner=admin_user, name="Acme"), first_name="Ann", last_name="Lee")
    reader = RowReader(Contact, ["id", "account.name", "name", "created_at"])

    with CaptureQueriesContext(connection) as queries:
        (row,) = reader.read(Contact.objects.filter(pk=contact.pk))
        assert (row.pk, row.name, row.account.name, row.created_at) == (
            contact.pk,
            "Ann Lee",
            "Acme",
            contact.created_at,
        )
        assert row.account_id == contact.account_id and not row._state.adding

    assert len(queries) == 1


def test_what_a_row_was_not_read_with_is_loaded_when_asked_for(admin_user):
    contact = ContactFactory(account=AccountFactory(owner=admin_user, industry="Retail"))
    (row,) = RowReader(Contact, ["account.name"]).read(Contact.objects.filter(pk=contact.pk))

    assert row.account.industry == "Retail"
    assert row == contact


def test_a_reference_named_by_a_property_is_read_whole_and_a_missing_one_is_none(admin_user):
    account = AccountFactory(owner=admin_user)
    with_contact = InteractionFactory(account=account, contact=ContactFactory(account=account, first_name="Bo"))
    without = InteractionFactory(account=account, contact=None)
    reader = RowReader(Interaction, ["account.name", "contact.name"])

    with CaptureQueriesContext(connection) as queries:
        rows = {r.pk: r for r in reader.read(Interaction.objects.filter(pk__in=[with_contact.pk, without.pk]))}
        assert rows[with_contact.pk].contact.name == with_contact.contact.name
        assert rows[without.pk].contact is None

    assert len(queries) == 1


def test_paths_a_list_cannot_read_are_refused():
    with pytest.raises(ValueError):
        RowReader(Interaction, ["contact.account.name"])


def test_rows_read_through_a_members_visibility_join_hold_what_values_list_reads(member, outsider):
    from django.db.models import F

    mine, theirs = AccountFactory(owner=member, name="Mine"), AccountFactory(owner=outsider, name="Theirs")
    InteractionFactory(account=mine, contact=ContactFactory(account=mine, first_name="Bo"))
    InteractionFactory(account=mine, contact=None)
    InteractionFactory(account=theirs, contact=ContactFactory(account=theirs))
    reader = RowReader(Interaction, ["account.name", "contact.name", "subject"])
    visible = Interaction.objects.restrict(member).annotate(place=F("account__name")).order_by("-id")[:10]

    assert [tuple(values) for values in reader._values(visible)] == list(visible.values_list(*reader.columns, "place"))
    assert [(r.account.name, r.place) for r in reader.read(visible)] == [("Mine", "Mine"), ("Mine", "Mine")]
