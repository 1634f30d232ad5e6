"""Importing files: good files in CSV and XLSX, every kind of bad file, re-imports that change nothing, permissions."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest

from patron.core.models import Role
from patron.customers.models import Account, Contact, Order, Product, Subscription
from patron.dataio import services
from patron.dataio.models import ImportRun, ImportStatus
from patron.engagement.models import Interaction, Ticket
from patron.errors import Forbidden, Invalid
from patron.feedback.models import SurveyResponse
from patron.pipeline.models import Campaign, Deal, DealStageChange, Lead
from tests.dataio.conftest import FILES, import_sample, run_import, xlsx_bytes
from tests.factories import AccountFactory, CampaignFactory, ContactFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

WRITTEN = (Account, Contact, Deal, DealStageChange, Product, Order, Subscription, Interaction, Ticket, Lead)


def written() -> dict[str, int]:
    """Count the rows of every model an import can touch, with their audit history."""
    counts = {m.__name__: m._default_manager.count() for m in WRITTEN}
    counts.update({f"history of {m.__name__}": m.history.count() for m in WRITTEN if hasattr(m, "history")})
    return counts


def assert_failed_without_writing(result, before, *, row, column, says):
    """The import failed with an error naming ``row`` and ``column``, wrote nothing, and recorded a failed run."""
    assert isinstance(result, Invalid), result
    assert any(d.get("row") == row and d.get("column") == column and says in d["message"] for d in result.details), (
        result.details
    )
    assert written() == before
    run = ImportRun.objects.latest("id")
    assert run.status == ImportStatus.FAILED
    assert (run.created, run.updated) == (0, 0)
    assert any(e.get("row") == row and e.get("column") == column for e in run.errors)


@pytest.fixture
def base(admin_user, max_mustermann):
    """Accounts and contacts from the sample files, imported by the admin."""
    for kind, name in (("accounts", "accounts.csv"), ("contacts", "contacts.csv")):
        result = import_sample(admin_user, kind, name)
        assert isinstance(result, ImportRun), result
    return admin_user


# Good files


def test_accounts_contacts_and_deals_from_csv(admin_user, max_mustermann):
    run = import_sample(admin_user, "accounts", "accounts.csv")
    assert (run.status, run.rows, run.created, run.updated, run.unchanged) == ("succeeded", 3, 3, 0, 0)
    assert run.sha256 == hashlib.sha256((FILES / "accounts.csv").read_bytes()).hexdigest()
    assert run.file_format == "csv"
    acme = Account.objects.get(external_id="ACC-001")
    assert (acme.name, acme.country, acme.size_band, acme.owner) == (
        "Acme Robotics GmbH",
        "DE",
        "50-249",
        max_mustermann,
    )
    nowak = Account.objects.get(external_id="ACC-002")
    assert nowak.owner == admin_user  # no owner in the file: the importing user owns it
    assert nowak.lifecycle_stage == "onboarding"
    assert Account.objects.get(external_id="ACC-003").country == "RU"  # "Russia"

    run = import_sample(admin_user, "contacts", "contacts.csv")
    assert (run.created, run.rows) == (3, 3)
    anna = Contact.objects.get(external_id="CON-001")
    assert (anna.account, anna.email, anna.role, anna.email_opt_out) == (acme, anna.email, "decision_maker", False)
    assert Contact.objects.get(external_id="CON-003").email_opt_out is True

    run = import_sample(admin_user, "deals", "deals.csv")
    assert run.created == 2
    fleet = Deal.objects.get(external_id="DEAL-001")
    assert (fleet.stage, fleet.amount, fleet.expected_close, fleet.owner) == (
        "negotiation",
        Decimal("48500.00"),
        dt.date(2025, 6, 30),
        max_mustermann,
    )
    pilot = Deal.objects.get(external_id="DEAL-002")
    assert (pilot.stage, pilot.currency, pilot.closed_on) == ("won", "PLN", dt.date(2025, 3, 14))
    assert set(DealStageChange.objects.values_list("deal__external_id", "stage", "changed_by")) == {
        ("DEAL-001", "negotiation", admin_user.pk),
        ("DEAL-002", "won", admin_user.pk),
    }


def test_every_change_has_an_audit_record_naming_the_user_and_the_run(admin_user, max_mustermann):
    run = import_sample(admin_user, "accounts", "accounts.csv")
    records = Account.history.filter(external_id="ACC-001")
    assert records.count() == 1
    record = records.get()
    assert (record.history_type, record.history_user) == ("+", admin_user)
    assert record.history_change_reason == f"Import {run.pk}: accounts.csv"
    changed = (FILES / "accounts.csv").read_text().replace("Bavaria", "Bayern")
    second = run_import(admin_user, "accounts", changed, name="accounts.csv")
    assert (second.created, second.updated, second.unchanged) == (0, 1, 2)
    latest = Account.objects.get(external_id="ACC-001").history.latest()
    assert (latest.history_type, latest.history_user) == ("~", admin_user)
    delta = latest.diff_against(latest.prev_record)
    assert [(c.field, c.old, c.new) for c in delta.changes if c.field != "updated_at"] == [
        ("region", "Bavaria", "Bayern")
    ]


def test_a_deal_moving_stage_gets_a_stage_history_entry(base):
    import_sample(base, "deals", "deals.csv")
    moved = (
        (FILES / "deals.csv")
        .read_text()
        .replace("Negotiation", "Closed won")
        .replace("max.mustermann@example.com,", "max.mustermann@example.com,Signed for the whole fleet")
    )
    run = run_import(base, "deals", moved, name="deals.csv")
    assert (run.created, run.updated, run.unchanged) == (0, 1, 1)
    fleet = Deal.objects.get(external_id="DEAL-001")
    assert (fleet.stage, fleet.closed_on) == ("won", dt.date(2025, 6, 30))
    assert list(fleet.stage_history.values_list("stage", flat=True)) == ["negotiation", "won"]
    assert fleet.history.latest().history_type == "~"


def test_the_same_records_from_xlsx_with_typed_cells(admin_user):
    accounts = xlsx_bytes(
        [
            ["External ID", "Name", "Country", "Size band"],
            [10001, "Typed GmbH", "Germany", 120],
            [10002, "Cells Ltd", "GB", "1-9"],
        ]
    )
    run = run_import(admin_user, "accounts", accounts, name="accounts.xlsx")
    assert (run.status, run.file_format, run.created) == ("succeeded", "xlsx", 2)
    typed = Account.objects.get(external_id="10001")  # the number 10001 is the id "10001", not "10001.0"
    assert (typed.country, typed.size_band) == ("DE", "50-249")
    deals = xlsx_bytes(
        [
            ["external_id", "account", "name", "stage", "amount", "expected_close", "close_reason"],
            ["D-1", 10001, "Typed deal", "Closed won", 0.1 + 0.2, dt.datetime(2025, 4, 30), "Best offer"],
            ["D-2", 10002, "Text date", "proposal", "1.500,00", "30.04.2025", None],
        ]
    )
    run = run_import(admin_user, "deals", deals, name="deals.xlsx")
    assert run.created == 2
    first, second = Deal.objects.order_by("external_id")
    assert (first.amount, first.expected_close, first.closed_on) == (
        Decimal("0.30"),
        dt.date(2025, 4, 30),
        dt.date(2025, 4, 30),
    )
    assert (second.amount, second.expected_close) == (Decimal("1500.00"), dt.date(2025, 4, 30))
    again = run_import(admin_user, "deals", deals, name="deals.xlsx")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_reimporting_the_same_files_changes_nothing(base):
    before = written()
    for kind, name in (("accounts", "accounts.csv"), ("contacts", "contacts.csv")):
        run = import_sample(base, kind, name)
        assert (run.created, run.updated, run.unchanged) == (0, 0, 3)
    assert written() == before


def test_contacts_are_matched_by_email_regardless_of_case(admin_user, max_mustermann):
    import_sample(admin_user, "accounts", "accounts.csv")
    acme = Account.objects.get(external_id="ACC-001")
    known = ContactFactory(account=acme, email="Anna.Schmidt@Acme-Robotics.example", external_id=None, title="")
    run = import_sample(admin_user, "contacts", "contacts.csv")
    assert (run.created, run.updated) == (2, 1)
    known.refresh_from_db()
    assert (known.external_id, known.title, known.email) == ("CON-001", "CFO", "anna.schmidt@acme-robotics.example")
    assert Contact.objects.filter(email__iexact="anna.schmidt@acme-robotics.example").count() == 1
    again = import_sample(admin_user, "contacts", "contacts.csv")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


def test_contacts_without_external_id_are_upserted_by_email(base):
    text = "email,account,title\nANNA.SCHMIDT@acme-robotics.example,ACC-001,CEO\nnew.person@acme-robotics.example,ACC-001,\n"
    run = run_import(base, "contacts", text)
    assert (run.created, run.updated, run.unchanged) == (1, 1, 0)
    assert Contact.objects.get(external_id="CON-001").title == "CEO"
    assert Contact.objects.get(email="new.person@acme-robotics.example").external_id is None


def test_an_email_owned_by_another_external_id_is_an_error(base):
    before = written()
    text = "external_id,account,email\nCON-999,ACC-001,jonas.weber@acme-robotics.example\n"
    result = run_import(base, "contacts", text)
    assert_failed_without_writing(result, before, row=2, column="email", says="CON-002")


def test_other_kinds_import_and_reimport(base):
    CampaignFactory(external_id="CMP-1")
    ProductFactory(sku="SKU-CORE")
    files = {
        "products": "sku,name,product_group\nSKU-PRO,Pro plan,Plans\nSKU-ENT,Enterprise plan,Plans\n",
        "orders": "external_id,account,ordered_at,amount,currency,channel\nO-1,ACC-001,2025-01-15,1200.50,EUR,online\n",
        "subscriptions": (
            "external_id,account,product,monthly_amount,started_on,renews_on,status\n"
            "S-1,ACC-001,SKU-CORE,300,2024-01-01,2026-01-01,Active\n"
        ),
        "interactions": (
            "external_id,account,contact,channel,occurred_at,subject,direction\n"
            "I-1,ACC-001,CON-001,Phone,2025-02-03 10:15,Renewal call,outbound\n"
            "I-2,ACC-001,jonas.weber@ACME-robotics.example,email,2025-02-04T08:00:00Z,Follow-up,inbound\n"
        ),
        "tickets": (
            "external_id,account,contact,subject,opened_at,resolved_at,severity,status\n"
            "T-1,ACC-002,CON-003,Invoice question,2025-02-01 09:00,2025-02-01 09:30,low,resolved\n"
        ),
        "survey_responses": (
            "external_id,account,contact,stage,nps,csat,responded_at,ticket\n"
            "R-1,ACC-002,CON-003,after_ticket,9,5,2025-02-02 12:00,T-1\n"
        ),
        "leads": "external_id,name,company,email,campaign,status,fit_score,country\nL-1,Eva Green,Green AG,eva@green.example,CMP-1,qualified,80,Switzerland\n",
        "campaigns": "external_id,name,channel,cost,starts_on\nCMP-2,Spring webinar,event,2500,2025-03-01\n",
    }
    for kind, text in files.items():
        run = run_import(base, kind, text, name=f"{kind}.csv")
        assert isinstance(run, ImportRun), (kind, run.details if hasattr(run, "details") else run)
        assert run.created >= 1, kind
        again = run_import(base, kind, text, name=f"{kind}.csv")
        assert (again.created, again.updated, again.unchanged) == (0, 0, run.created), kind
    assert Interaction.objects.get(external_id="I-2").contact.external_id == "CON-002"
    assert Subscription.objects.get(external_id="S-1").product.sku == "SKU-CORE"
    assert SurveyResponse.objects.get(external_id="R-1").ticket.external_id == "T-1"
    assert Lead.objects.get(external_id="L-1").owner == base  # leads are owned: the importer owns them
    assert Campaign.objects.filter(external_id="CMP-2").exists()


def test_dry_run_checks_everything_and_writes_nothing(admin_user, max_mustermann):
    before = written()
    run = import_sample(admin_user, "accounts", "accounts.csv", dry_run=True)
    assert (run.status, run.created, run.dry_run) == ("checked", 3, True)
    assert written() == before


def test_unknown_owners_are_a_warning_and_left_empty(admin_user):
    text = "external_id,name,owner\nA-1,Owned by a stranger,nobody@elsewhere.example\n"
    run = run_import(admin_user, "accounts", text)
    assert run.warning_count == 1
    assert run.warnings[0]["row"] == 2 and run.warnings[0]["column"] == "owner"
    assert Account.objects.get(external_id="A-1").owner == admin_user


def test_explicit_mapping_names_columns_of_any_language(admin_user):
    text = "Kennung;Firma;Branche;Interne Notiz\nK-1;Müller KG;Handel;nur für uns\n"
    run = run_import(admin_user, "accounts", text, mapping=["Kennung=external_id", "Firma=name", "Interne Notiz="])
    assert run.created == 1
    assert run.mapping == {"Kennung": "external_id", "Firma": "name", "Branche": "", "Interne Notiz": ""}
    assert Account.objects.get(external_id="K-1").name == "Müller KG"


@pytest.mark.parametrize(
    ("mapping", "says"),
    [
        (["Firma=nickname"], "not a field of accounts"),
        (["Spalte=name"], "does not have"),
        (["no equals sign"], "column=field"),
    ],
)
def test_a_wrong_mapping_is_refused_before_reading(admin_user, mapping, says):
    result = run_import(admin_user, "accounts", "external_id,Firma,Kennung\nK-1,Müller,X\n", mapping=mapping)
    assert isinstance(result, Invalid)
    assert says in result.message
    assert result.field == "map"


# Bad files: each names the row and column, and nothing is written


def test_bad_encoding_names_offset_and_line(admin_user):
    before = written()
    data = b"external_id,name\nA-1,Good\n" + b"A-2,Caf\xe9 de Flore\n"
    result = run_import(admin_user, "accounts", data)
    assert isinstance(result, Invalid)
    offset = data.index(b"\xe9")
    assert f"offset {offset}" in result.message and "line 3" in result.message
    assert result.details[0]["line"] == 3
    assert written() == before
    run = ImportRun.objects.latest("id")
    assert run.status == "failed" and run.errors[0]["offset"] == offset


def test_missing_required_column_is_reported_before_any_row(base):
    before = written()
    result = run_import(base, "contacts", "external_id,first_name,email\nC-9,Ann,ann@example.com\n")
    assert_failed_without_writing(result, before, row=1, column="account", says="required")
    assert ImportRun.objects.latest("id").rows == 0


def test_bad_date(base):
    before = written()
    text = "external_id,account,name,expected_close\nD-1,ACC-001,Fine,2025-05-01\nD-2,ACC-001,Bad,31.02.2025\n"
    result = run_import(base, "deals", text)
    assert_failed_without_writing(result, before, row=3, column="expected_close", says="not a real date")


def test_ambiguous_date_unless_the_order_is_given(base):
    text = "external_id,account,name,expected_close\nD-1,ACC-001,Deal,03/04/2025\n"
    result = run_import(base, "deals", text)
    assert isinstance(result, Invalid) and "day/month or month/day" in result.details[0]["message"]
    run = run_import(base, "deals", text, date_order="dmy")
    assert run.created == 1 and Deal.objects.get().expected_close == dt.date(2025, 4, 3)


def test_duplicate_key_within_the_file(base):
    before = written()
    text = (
        "external_id,account,email\nC-1,ACC-001,one@example.com\nC-2,ACC-001,two@example.com\n"
        "C-1,ACC-002,three@example.com\nC-4,ACC-002,TWO@example.com\n"
    )
    result = run_import(base, "contacts", text)
    assert_failed_without_writing(result, before, row=4, column="external_id", says="also on row 2")
    assert any(d["row"] == 5 and d["column"] == "email" and "also on row 3" in d["message"] for d in result.details)


def test_wrong_type(base):
    before = written()
    text = "external_id,account,name,amount\nD-1,ACC-001,Deal,lots\n"
    result = run_import(base, "deals", text)
    assert_failed_without_writing(result, before, row=2, column="amount", says="not a number")


def test_unknown_account(base):
    before = written()
    text = "external_id,account,email\nC-1,ACC-001,one@example.com\nC-2,ACC-999,two@example.com\n"
    result = run_import(base, "contacts", text)
    assert_failed_without_writing(result, before, row=3, column="account", says="no account with external id “ACC-999”")


def test_invalid_email_and_choice(base):
    before = written()
    text = "external_id,account,email,role\nC-1,ACC-001,not-an-email,champion\nC-2,ACC-001,ok@example.com,boss\n"
    result = run_import(base, "contacts", text)
    assert_failed_without_writing(result, before, row=2, column="email", says="not a valid e-mail")
    assert any(d["row"] == 3 and d["column"] == "role" for d in result.details)


def test_bad_cell_in_xlsx(base):
    before = written()
    data = xlsx_bytes([["external_id", "account", "name", "expected_close"], ["D-1", "ACC-001", "Deal", "next week"]])
    result = run_import(base, "deals", data, name="deals.xlsx")
    assert_failed_without_writing(result, before, row=2, column="expected_close", says="not a date")


def test_the_domains_own_rules_apply_to_imported_rows(base):
    before = written()
    text = "external_id,account,name,stage\nD-1,ACC-001,Open deal,proposal\nD-2,ACC-001,Won deal,won\n"
    result = run_import(base, "deals", text)
    assert_failed_without_writing(result, before, row=3, column="close_reason", says="say why the deal was won")


def test_model_rules_across_fields(base):
    before = written()
    text = "external_id,account,subject,opened_at,resolved_at\nT-1,ACC-001,Late,2025-02-02 10:00,2025-02-01 10:00\n"
    result = run_import(base, "tickets", text)
    assert_failed_without_writing(result, before, row=2, column="resolved_at", says="before it was opened")


def test_rows_before_the_error_are_undone_too(base, monkeypatch):
    monkeypatch.setattr(services, "CHUNK_ROWS", 2)
    before = written()
    good = "".join(f"C-{i},ACC-001,c{i}@example.com\n" for i in range(1, 6))
    text = "external_id,account,email\n" + good + "C-6,ACC-404,c6@example.com\n"
    result = run_import(base, "contacts", text)
    assert_failed_without_writing(result, before, row=7, column="account", says="ACC-404")


def test_duplicates_are_found_across_chunks(base, monkeypatch):
    monkeypatch.setattr(services, "CHUNK_ROWS", 3)
    rows = [f"C-{i},ACC-001,c{i}@example.com" for i in range(1, 40)] + ["C-5,ACC-001,again@example.com"]
    result = run_import(base, "contacts", "external_id,account,email\n" + "\n".join(rows) + "\n")
    assert isinstance(result, Invalid)
    assert result.details == [
        {
            "row": 41,
            "column": "external_id",
            "field": "external_id",
            "message": "“C-5” appears twice in the file: also on row 6.",
        }
    ]


def test_errors_stop_being_collected_at_one_hundred(base, monkeypatch):
    monkeypatch.setattr(services, "CHUNK_ROWS", 50)
    text = "external_id,account,name,amount\n" + "".join(f"D-{i},ACC-001,Deal,oops\n" for i in range(300))
    result = run_import(base, "deals", text)
    assert len(result.details) == services.MAX_ERRORS
    assert "at least 100" in result.message
    assert ImportRun.objects.latest("id").rows == 100  # reading stopped after the chunk that filled the list


# Permissions


def test_members_may_not_import_shared_records(member):
    result = run_import(member, "products", "sku,name\nSKU-1,Thing\n")
    assert isinstance(result, Forbidden)
    assert not Product.objects.exists()
    assert ImportRun.objects.get().status == "failed"


def test_members_add_only_to_accounts_they_may_change(member, outsider):
    AccountFactory(external_id="MINE", owner=member)
    AccountFactory(external_id="THEIRS", owner=outsider)
    before = written()
    text = "external_id,account,email\nC-1,MINE,a@example.com\nC-2,THEIRS,b@example.com\n"
    result = run_import(member, "contacts", text)
    assert_failed_without_writing(result, before, row=3, column="account", says="may not add records")
    run = run_import(member, "contacts", "external_id,account,email\nC-1,MINE,a@example.com\n")
    assert run.created == 1


def test_members_cannot_overwrite_records_they_may_not_see(member, outsider):
    AccountFactory(external_id="HIDDEN", owner=outsider, name="Secret")
    before = written()
    result = run_import(member, "accounts", "external_id,name\nHIDDEN,Taken over\n")
    assert_failed_without_writing(result, before, row=2, column="external_id", says="may not see")
    assert Account.objects.get(external_id="HIDDEN").name == "Secret"


def test_imported_accounts_without_owner_belong_to_the_importer(member):
    run = run_import(member, "accounts", "external_id,name\nM-1,Mine now\n")
    assert run.created == 1
    assert Account.objects.get(external_id="M-1").owner == member


def test_import_user_defaults_to_the_first_admin(db):
    with pytest.raises(services.NotFound):
        services.import_user()
    UserFactory(username="member-only")
    first = UserFactory(username="root", role=Role.ADMIN)
    UserFactory(username="later-admin", role=Role.ADMIN)
    assert services.import_user() == first
    assert services.import_user("member-only").username == "member-only"
    with pytest.raises(services.NotFound):
        services.import_user("nobody")
