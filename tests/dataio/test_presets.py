"""HubSpot and Salesforce exports: their columns, stage names, owners, company links and date formats."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from patron.customers.models import Account, Contact
from patron.dataio.presets import get_preset
from patron.errors import Invalid
from patron.pipeline.models import Deal
from tests.dataio.conftest import import_sample, run_import

pytestmark = pytest.mark.django_db


def test_hubspot_companies_contacts_and_deals(admin_user, max_mustermann):
    companies = import_sample(admin_user, "accounts", "hubspot_companies.csv", preset="hubspot")
    assert (companies.created, companies.warning_count) == (3, 1)  # "Zed Nobody" is no Patron user
    assert companies.warnings[0]["row"] == 3 and companies.warnings[0]["column"] == "Company owner"
    assert companies.mapping["City"] == "" and companies.mapping["Record ID"] == "external_id"
    acme = Account.objects.get(external_id="9817263544")
    assert (acme.name, acme.country, acme.size_band, acme.lifecycle_stage, acme.owner, acme.website) == (
        "Acme Robotics GmbH",
        "DE",
        "50-249",
        "active",
        max_mustermann,  # "Company owner" by full name
        "acme-robotics.example",
    )
    harbor = Account.objects.get(external_id="9817263545")
    assert (harbor.country, harbor.size_band, harbor.lifecycle_stage, harbor.owner) == (
        "US",
        "1000+",
        "prospect",
        admin_user,
    )

    contacts = import_sample(admin_user, "contacts", "hubspot_contacts.csv", preset="hubspot")
    assert contacts.created == 3
    tom = Contact.objects.get(external_id="52")
    assert tom.account == harbor  # the first of "9817263545;9817263546"
    assert Contact.objects.get(external_id="51").email == "anna.schmidt@acme-robotics.example"  # stored lower-case

    deals = import_sample(admin_user, "deals", "hubspot_deals.csv", preset="hubspot")
    assert deals.created == 3
    by_id = {d.external_id: d for d in Deal.objects.all()}
    assert (by_id["7001"].stage, by_id["7001"].kind, by_id["7001"].amount, by_id["7001"].owner) == (
        "negotiation",
        "new",
        Decimal(48500),
        max_mustermann,
    )
    assert (by_id["7002"].stage, by_id["7002"].kind, by_id["7002"].amount, by_id["7002"].closed_on) == (
        "won",
        "expansion",
        Decimal("12000.50"),
        dt.date(2025, 2, 28),
    )
    assert by_id["7002"].close_reason == "Expanded to two more plants"  # from "Closed Won Reason"
    assert (by_id["7003"].stage, by_id["7003"].amount, by_id["7003"].expected_close) == (
        "qualification",
        Decimal(0),
        dt.date(2025, 9, 1),
    )
    for kind, name in (
        ("accounts", "hubspot_companies.csv"),
        ("contacts", "hubspot_contacts.csv"),
        ("deals", "hubspot_deals.csv"),
    ):
        again = import_sample(admin_user, kind, name, preset="hubspot")
        assert (again.created, again.updated, again.unchanged) == (0, 0, 3), name


def test_salesforce_accounts_contacts_and_opportunities(admin_user, max_mustermann):
    accounts = import_sample(admin_user, "accounts", "salesforce_accounts.csv", preset="salesforce")
    assert accounts.created == 2
    northwind = Account.objects.get(external_id="0015g00000XyZ1AAAQ")
    assert (northwind.country, northwind.region, northwind.size_band, northwind.lifecycle_stage, northwind.owner) == (
        "US",
        "WA",
        "1000+",
        "active",
        max_mustermann,
    )
    contoso = Account.objects.get(external_id="0015g00000XyZ2AAAQ")
    assert (contoso.country, contoso.lifecycle_stage, contoso.owner) == ("GB", "prospect", admin_user)

    contacts = import_sample(admin_user, "contacts", "salesforce_contacts.csv", preset="salesforce")
    assert contacts.created == 3
    assert set(northwind.contacts.values_list("last_name", flat=True)) == {"Davolio", "Fuller"}

    deals = import_sample(admin_user, "deals", "salesforce_opportunities.csv", preset="salesforce")
    assert deals.created == 3
    renewal = Deal.objects.get(external_id="0065g00000Cd1AAB")
    # Salesforce's US export writes month first: 3/4/2025 is the 4th of March.
    assert (renewal.stage, renewal.kind, renewal.expected_close, renewal.account) == (
        "negotiation",
        "renewal",
        dt.date(2025, 3, 4),
        northwind,
    )
    lab = Deal.objects.get(external_id="0065g00000Cd2AAB")
    assert (lab.stage, lab.kind, lab.amount, lab.expected_close) == (
        "proposal",
        "new",
        Decimal(150000),
        dt.date(2025, 11, 15),
    )
    upsell = Deal.objects.get(external_id="0065g00000Cd3AAB")
    assert (upsell.stage, upsell.kind, upsell.closed_on, upsell.close_reason) == (
        "lost",
        "expansion",
        dt.date(2025, 1, 10),
        "Budget cut",
    )
    again = import_sample(admin_user, "deals", "salesforce_opportunities.csv", preset="salesforce")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


def test_a_second_export_column_fills_in_where_the_first_is_empty(admin_user):
    import_sample(admin_user, "accounts", "hubspot_companies.csv", preset="hubspot")
    text = (
        "Record ID,First Name,Email,Phone Number,Mobile Phone Number,Associated Company IDs\n"
        "61,Ola,ola@example.com,+48 22 111 11 11,+48 600 000 001,9817263544\n"
        "62,Ivo,ivo@example.com,,+359 88 000 0002,9817263544\n"
    )
    run = run_import(admin_user, "contacts", text, preset="hubspot")
    assert run.mapping["Phone Number"] == run.mapping["Mobile Phone Number"] == "phone"
    assert dict(Contact.objects.values_list("external_id", "phone")) == {
        "61": "+48 22 111 11 11",
        "62": "+359 88 000 0002",
    }


def test_the_date_order_given_beats_the_presets(admin_user):
    import_sample(admin_user, "accounts", "salesforce_accounts.csv", preset="salesforce")
    text = '"Opportunity ID","Opportunity Name","Account ID","Stage","Close Date"\n"O-1","EU export","0015g00000XyZ2AAAQ","Prospecting","3/4/2025"\n'
    run_import(admin_user, "deals", text, preset="salesforce", date_order="dmy")
    assert Deal.objects.get(external_id="O-1").expected_close == dt.date(2025, 4, 3)


def test_a_preset_export_missing_the_company_link_is_refused_naming_its_column(admin_user):
    result = run_import(admin_user, "contacts", "Record ID,First Name,Email\n1,Ann,ann@example.com\n", preset="hubspot")
    assert isinstance(result, Invalid)
    assert result.details[0]["row"] == 1 and result.details[0]["column"] == "Associated Company IDs"


def test_unknown_stage_names_list_the_ones_known(admin_user):
    import_sample(admin_user, "accounts", "salesforce_accounts.csv", preset="salesforce")
    text = '"Opportunity ID","Opportunity Name","Account ID","Stage"\n"O-1","X","0015g00000XyZ2AAAQ","Haggling"\n'
    result = run_import(admin_user, "deals", text, preset="salesforce")
    assert isinstance(result, Invalid)
    assert result.details[0]["column"] == "Stage" and "not one of" in result.details[0]["message"]


def test_presets_cover_companies_contacts_and_deals_only(admin_user):
    assert get_preset(None) is None and get_preset("HubSpot").name == "hubspot"
    with pytest.raises(Invalid, match="no “pipedrive” preset"):
        get_preset("pipedrive")
    result = run_import(admin_user, "tickets", "Record ID\n1\n", preset="hubspot")
    assert isinstance(result, Invalid) and result.field == "preset"
