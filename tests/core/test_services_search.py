"""Searching records: every word in one of the fields; short words (Chinese names) by the start of a name."""

from __future__ import annotations

import pytest
from django.db.models import Q

from patron.customers import services as customers
from patron.customers.models import Contact
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(member, outsider):
    mine = AccountFactory(owner=member)
    theirs = AccountFactory(owner=outsider)
    return {
        "wang_wei": ContactFactory(account=mine, first_name="伟", last_name="王", email="wei.wang@example.cn"),
        "wang_fang": ContactFactory(account=mine, first_name="芳", last_name="王", email=None),
        "xiao_wang": ContactFactory(account=mine, first_name="小王", last_name="李", email="xw@example.cn"),
        "hidden_wang": ContactFactory(account=theirs, first_name="静", last_name="王", email="jing@example.cn"),
        "li_na": ContactFactory(account=mine, first_name="Na", last_name="Li", email="na.li@example.com"),
        "anna": ContactFactory(account=mine, first_name="Anna", last_name="Müller", email="anna.mueller@acme.example"),
        "oliver": ContactFactory(account=mine, first_name="Oliver", last_name="Lis", email="o@acme.example"),
    }


def found(user, text):
    return set(customers.contacts.filtered(user, search=text).values_list("pk", flat=True))


def ids(people, *names):
    return {people[n].pk for n in names}


def test_a_chinese_surname_finds_the_people_who_bear_it_and_only_those_the_user_sees(people, member):
    assert found(member, "王") == ids(people, "wang_wei", "wang_fang")


def test_a_short_word_matches_the_start_of_a_first_or_last_name_in_any_case(people, member):
    assert found(member, "小") == ids(people, "xiao_wang")
    assert found(member, "li") == ids(people, "li_na", "oliver")  # Li, Lis; not the e-mail na.li@...
    assert found(member, "王 伟") == ids(people, "wang_wei")
    assert found(member, "na li") == ids(people, "li_na")


def test_an_admin_also_finds_what_a_member_may_not_see(people, admin_user):
    assert found(admin_user, "王") == ids(people, "wang_wei", "wang_fang", "hidden_wang")


def test_longer_words_are_found_anywhere_in_names_and_email_as_icontains_finds_them(people, admin_user):
    for text in ("müller", "MÜLL", "acme", "anna acme", "wei.wang", "example", "liver lis", "@acme.ex", "nobody"):
        expected = Contact.objects.all()
        for word in text.split():
            expected = expected.filter(
                Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
            )
        assert found(admin_user, text) == set(expected.values_list("pk", flat=True)), text


def test_like_wildcards_in_a_search_are_plain_characters(people, admin_user):
    ContactFactory(account=AccountFactory(), first_name="Per%cent", last_name="Under_score")
    assert {c.first_name for c in customers.contacts.filtered(admin_user, search="r%c")} == {"Per%cent"}
    assert found(admin_user, "ana%") == set()
    assert {c.last_name for c in customers.contacts.filtered(admin_user, search="r_s")} == {"Under_score"}
