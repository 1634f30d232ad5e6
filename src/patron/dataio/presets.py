"""Column mappings for files exported from HubSpot and Salesforce: their column names, stages and date formats.

A preset maps each export column to a Patron field (where a file has several that fill one field, such as
"Phone Number" and "Mobile Phone Number", the first non-empty one in the preset's order is read), translates the exporting CRM's
words for stages and types into Patron's, and says how its dates are written. Contacts and deals point at
their company by the company's id in the other CRM, which Patron keeps as the account's ``external_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patron.dataio.cells import normal
from patron.errors import Invalid


@dataclass(frozen=True)
class Preset:
    """How one CRM's exports map onto Patron's kinds."""

    name: str
    label: str
    columns: dict[str, list[tuple[str, str]]]
    values: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    date_order: str | None = None
    first_of_list: frozenset[str] = frozenset()

    def columns_for(self, kind: str) -> list[tuple[str, str]]:
        """Return ``(export column, field)`` pairs for a kind, or raise Invalid if the preset does not cover it."""
        if kind not in self.columns:
            raise Invalid(
                _("The %(preset)s preset covers %(kinds)s, not %(kind)s.")
                % {"preset": self.label, "kinds": ", ".join(self.columns), "kind": kind},
                field="preset",
            )
        return self.columns[kind]

    def words_for(self, kind: str, name: str) -> dict[str, str]:
        """Return the preset's words for a field's values, folded for matching, with Patron's value for each."""
        return {normal(word): value for word, value in self.values.get(kind, {}).get(name, {}).items()}


HUBSPOT = Preset(
    "hubspot",
    "HubSpot",
    columns={
        "accounts": [
            ("Record ID", "external_id"),
            ("Company ID", "external_id"),
            ("Company name", "name"),
            ("Name", "name"),
            ("Industry", "industry"),
            ("Country/Region", "country"),
            ("Country", "country"),
            ("State/Region", "region"),
            ("Website URL", "website"),
            ("Company Domain Name", "website"),
            ("Number of Employees", "size_band"),
            ("Lifecycle Stage", "lifecycle_stage"),
            ("Company owner", "owner"),
        ],
        "contacts": [
            ("Record ID", "external_id"),
            ("Contact ID", "external_id"),
            ("First Name", "first_name"),
            ("Last Name", "last_name"),
            ("Email", "email"),
            ("Phone Number", "phone"),
            ("Mobile Phone Number", "phone"),
            ("Job Title", "title"),
            ("Associated Company IDs", "account"),
            ("Associated Company ID", "account"),
            ("Associated Company IDs (Primary)", "account"),
            ("Preferred language", "language"),
        ],
        "deals": [
            ("Record ID", "external_id"),
            ("Deal ID", "external_id"),
            ("Deal Name", "name"),
            ("Deal Stage", "stage"),
            ("Amount", "amount"),
            ("Deal currency code", "currency"),
            ("Currency", "currency"),
            ("Close Date", "expected_close"),
            ("Deal Type", "kind"),
            ("Deal owner", "owner"),
            ("Associated Company IDs", "account"),
            ("Associated Company ID", "account"),
            ("Associated Company IDs (Primary)", "account"),
            ("Closed Won Reason", "close_reason"),
            ("Closed Lost Reason", "close_reason"),
        ],
    },
    values={
        "accounts": {
            "lifecycle_stage": {
                "Subscriber": "prospect",
                "Lead": "prospect",
                "Marketing Qualified Lead": "prospect",
                "Sales Qualified Lead": "prospect",
                "Opportunity": "prospect",
                "Customer": "active",
                "Evangelist": "active",
                "Other": "",
            },
        },
        "deals": {
            # HubSpot's default sales pipeline, by label and by internal name (they fold to the same words).
            "stage": {
                "Appointment Scheduled": "qualification",
                "Qualified To Buy": "discovery",
                "Presentation Scheduled": "discovery",
                "Decision Maker Bought-In": "proposal",
                "Contract Sent": "negotiation",
                "Closed Won": "won",
                "Closed Lost": "lost",
            },
            "kind": {"New Business": "new", "Existing Business": "expansion"},
        },
    },
    first_of_list=frozenset({"account"}),
)

SALESFORCE = Preset(
    "salesforce",
    "Salesforce",
    columns={
        "accounts": [
            ("Account ID", "external_id"),
            ("Account Name", "name"),
            ("Industry", "industry"),
            ("Billing Country", "country"),
            ("Billing State/Province", "region"),
            ("Website", "website"),
            ("Employees", "size_band"),
            ("Type", "lifecycle_stage"),
            ("Account Owner", "owner"),
        ],
        "contacts": [
            ("Contact ID", "external_id"),
            ("First Name", "first_name"),
            ("Last Name", "last_name"),
            ("Email", "email"),
            ("Phone", "phone"),
            ("Mobile", "phone"),
            ("Title", "title"),
            ("Account ID", "account"),
            ("Email Opt Out", "email_opt_out"),
            ("Do Not Call", "do_not_contact"),
        ],
        "deals": [
            ("Opportunity ID", "external_id"),
            ("Opportunity Name", "name"),
            ("Stage", "stage"),
            ("Amount", "amount"),
            ("Opportunity Currency", "currency"),
            ("Currency", "currency"),
            ("Close Date", "expected_close"),
            ("Type", "kind"),
            ("Opportunity Owner", "owner"),
            ("Account ID", "account"),
            # Not a standard field, but the usual custom one; Patron asks why a deal was won or lost.
            ("Loss Reason", "close_reason"),
            ("Close Reason", "close_reason"),
        ],
    },
    values={
        "accounts": {
            "lifecycle_stage": {
                "Prospect": "prospect",
                "Customer - Direct": "active",
                "Customer - Channel": "active",
                "Channel Partner / Reseller": "",
                "Installation Partner": "",
                "Technology Partner": "",
                "Other": "",
            },
        },
        "deals": {
            # Salesforce's standard opportunity stages.
            "stage": {
                "Prospecting": "qualification",
                "Qualification": "qualification",
                "Needs Analysis": "discovery",
                "Value Proposition": "discovery",
                "Id. Decision Makers": "discovery",
                "Perception Analysis": "proposal",
                "Proposal/Price Quote": "proposal",
                "Negotiation/Review": "negotiation",
                "Closed Won": "won",
                "Closed Lost": "lost",
            },
            "kind": {
                "New Customer": "new",
                "New Business": "new",
                "Existing Customer - Upgrade": "expansion",
                "Existing Customer - Replacement": "renewal",
                "Existing Customer - Downgrade": "renewal",
                "Renewal": "renewal",
            },
        },
    },
    # Salesforce exports dates in the user's locale; the US default writes month first (3/15/2024).
    date_order="mdy",
)

PRESETS: dict[str, Preset] = {p.name: p for p in (HUBSPOT, SALESFORCE)}
PRESET_CHOICES = [("", gettext_lazy("None: match columns by name")), *((p.name, p.label) for p in PRESETS.values())]


def get_preset(name: str | None) -> Preset | None:
    """Return the preset called ``name`` (None for no preset), or raise Invalid naming the ones there are."""
    key = (name or "").strip().lower()
    if not key or key == "none":
        return None
    if key not in PRESETS:
        raise Invalid(
            _("There is no “%(preset)s” preset; choose %(presets)s.")
            % {"preset": name, "presets": " or ".join(PRESETS)},
            field="preset",
        )
    return PRESETS[key]
