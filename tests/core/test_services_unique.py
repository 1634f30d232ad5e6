"""Unique keys declared as constraints are checked like unique fields: one 409 naming the field."""

from __future__ import annotations

import pytest
from django.apps import apps

from patron.core.fields import External
from patron.core.services import unique_keys
from patron.customers import services as customers
from patron.customers.models import Contact, Product
from patron.errors import Conflict
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


def test_every_record_with_an_external_id_keeps_it_unique():
    models = [m for m in apps.get_models() if issubclass(m, External)]
    assert len(models) >= 11
    for model in models:
        assert ("external_id", False) in [(f.name, folded) for f, folded in unique_keys(model)], model


def test_contact_email_is_one_key_compared_regardless_of_case():
    assert [(f.name, folded) for f, folded in unique_keys(Contact)] == [("external_id", False), ("email", True)]
    assert ("sku", False) in [(f.name, folded) for f, folded in unique_keys(Product)]


def test_an_email_stored_with_capitals_still_blocks_the_same_address(admin_user):
    account = AccountFactory()
    held = ContactFactory(account=account, email="x@example.com")
    Contact.objects.filter(pk=held.pk).update(email="Ann@Example.COM")  # as older versions could store it
    with pytest.raises(Conflict) as caught:
        customers.contacts.create(admin_user, {"account_id": account.pk, "email": "ann@example.com"})
    assert caught.value.field == "email"
    assert caught.value.message == "email: another contact already has email “ann@example.com”."


def test_the_same_email_twice_in_one_upsert_is_refused(admin_user):
    account = AccountFactory()
    rows = [
        {"external_id": "C-1", "account_id": account.pk, "email": "ann@example.com"},
        {"external_id": "C-2", "account_id": account.pk, "email": "ANN@example.com"},
    ]
    with pytest.raises(Conflict) as caught:
        customers.contacts.upsert(admin_user, rows)
    assert caught.value.message.startswith("Row 2: email: “ann@example.com” is given twice")


def test_an_empty_external_id_is_stored_as_none_so_many_rows_may_lack_one(admin_user):
    account = AccountFactory()
    first = customers.contacts.create(admin_user, {"account_id": account.pk, "external_id": ""})
    second = customers.contacts.create(admin_user, {"account_id": account.pk, "external_id": ""})
    assert first.external_id is None and second.external_id is None


def test_the_model_check_says_the_email_is_taken_in_any_case():
    from django.core.exceptions import ValidationError

    account = AccountFactory()
    ContactFactory(account=account, email="ann@example.com")
    with pytest.raises(ValidationError) as caught:
        Contact(account=account, email="ANN@example.com").full_clean()
    assert caught.value.messages == ["A contact with this email already exists."]
