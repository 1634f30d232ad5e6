"""What the demo companies sell, what their people write, and who works there: the fixed texts of the demo."""

from __future__ import annotations

from dataclasses import dataclass

from patron.core.models import JobFunction, Role
from patron.engagement.models import Channel


@dataclass(frozen=True)
class Item:
    """A product of the demo catalogue with its list price (EUR) and whether it is billed monthly."""

    sku: str
    name: str
    group: str
    price: float
    recurring: bool = False


# A business-software vendor's catalogue for the B2B demo: plans and modules billed monthly, the rest once.
B2B_CATALOG: tuple[Item, ...] = (
    Item("ERP-STARTER", "Cloud ERP Starter plan", "ERP plans", 290, True),
    Item("ERP-BUSINESS", "Cloud ERP Business plan", "ERP plans", 890, True),
    Item("ERP-ENTERPRISE", "Cloud ERP Enterprise plan", "ERP plans", 2900, True),
    Item("SUP-STANDARD", "Standard support", "Support plans", 150, True),
    Item("SUP-PREMIUM", "Premium support", "Support plans", 450, True),
    Item("SUP-247", "24/7 mission-critical support", "Support plans", 1200, True),
    Item("MOD-WMS", "Warehouse module", "Modules", 320, True),
    Item("MOD-EINV", "E-invoicing module", "Modules", 140, True),
    Item("MOD-PAY", "Payroll module", "Modules", 260, True),
    Item("MOD-BI", "BI dashboards", "Modules", 190, True),
    Item("MOD-FIELD", "Field service app", "Modules", 240, True),
    Item("MOD-API", "API access", "Modules", 120, True),
    Item("SRV-IMPL", "Implementation package", "Services", 6500),
    Item("SRV-MIGR", "Data migration", "Services", 3200),
    Item("SRV-INTEG", "Custom integration (day)", "Services", 950),
    Item("SRV-CONSULT", "Consulting day", "Services", 1100),
    Item("SRV-HEALTH", "System health check", "Services", 1800),
    Item("TRN-ADMIN", "Administrator training", "Training", 1400),
    Item("TRN-USER", "End-user training seat", "Training", 180),
    Item("TRN-ACADEMY", "Online academy seat", "Training", 60),
    Item("HW-SCAN", "Barcode scanner", "Hardware", 320),
    Item("HW-TABLET", "Rugged tablet", "Hardware", 1150),
    Item("HW-LABEL", "Label printer", "Hardware", 480),
    Item("HW-POS", "POS terminal", "Hardware", 890),
    Item("HW-HANDHELD", "Handheld computer", "Hardware", 760),
    Item("CON-LABELS", "Label rolls (box of 12)", "Consumables", 45),
    Item("CON-PAPER", "Thermal paper (box of 50)", "Consumables", 35),
    Item("CON-BATTERY", "Spare battery pack", "Consumables", 55),
)

# A telecom retailer's catalogue for the B2C base: plans billed monthly, devices and top-ups sold once.
B2C_CATALOG: tuple[Item, ...] = (
    Item("MOB-S", "Mobile S plan", "Mobile plans", 15, True),
    Item("MOB-M", "Mobile M plan", "Mobile plans", 25, True),
    Item("MOB-XL", "Mobile XL plan", "Mobile plans", 45, True),
    Item("NET-300", "Fibre 300 home internet", "Home internet", 30, True),
    Item("NET-1000", "Fibre 1000 home internet", "Home internet", 45, True),
    Item("TV-BASIC", "TV Basic", "TV", 12, True),
    Item("TV-SPORTS", "TV Sports", "TV", 25, True),
    Item("PH-LITE", "Smartphone Lite", "Phones", 149),
    Item("PH-A15", "Smartphone A15", "Phones", 249),
    Item("PH-PRO", "Smartphone Pro", "Phones", 999),
    Item("DEV-TAB", 'Tablet 10"', "Devices", 329),
    Item("DEV-WATCH", "Smartwatch", "Devices", 199),
    Item("DEV-ROUTER", "Mesh Wi-Fi router", "Devices", 89),
    Item("ACC-CASE", "Phone case", "Accessories", 19),
    Item("ACC-CHARGER", "Fast charger", "Accessories", 25),
    Item("ACC-BUDS", "Wireless earbuds", "Accessories", 79),
    Item("ACC-GLASS", "Screen protector", "Accessories", 12),
    Item("TOP-10", "Prepaid top-up 10", "Top-ups", 10),
    Item("TOP-20", "Prepaid top-up 20", "Top-ups", 20),
    Item("TOP-50", "Prepaid top-up 50", "Top-ups", 50),
    Item("INS-DEVICE", "Device insurance (1 year)", "Insurance", 79),
)

INDUSTRIES = (
    ("Manufacturing", 0.16),
    ("Retail", 0.11),
    ("Logistics", 0.09),
    ("Wholesale", 0.08),
    ("Software", 0.08),
    ("Construction", 0.07),
    ("Healthcare", 0.06),
    ("Financial services", 0.05),
    ("Food & beverage", 0.06),
    ("Automotive", 0.05),
    ("Energy", 0.04),
    ("Hospitality", 0.04),
    ("Education", 0.03),
    ("Media", 0.02),
    ("Pharmaceuticals", 0.03),
    ("Agriculture", 0.03),
)

# Size bands: share of accounts, value multiplier, mean extra contacts, sales tier (0 key accounts, 1 mid, 2 small).
SIZE_BANDS = (
    ("1-9", 0.22, 0.25, 0.4, 2),
    ("10-49", 0.32, 0.6, 1.5, 2),
    ("50-249", 0.26, 1.2, 3.0, 1),
    ("250-999", 0.13, 2.6, 5.0, 0),
    ("1000+", 0.07, 6.0, 9.0, 0),
)

TEAM_NAMES = {
    "company": ("Enterprise", "Mid-market", "SMB"),
    "person": ("Premium customers", "Consumer", "Consumer"),
}
SUPPORT_TEAM = "Support"
MARKETING_TEAM = "Marketing"


@dataclass(frozen=True)
class StaffSeat:
    """A person in the demo company: job function, role and the sales tiers (or team) they work."""

    function: str
    role: str
    tiers: tuple[int, ...] = ()
    team: str = ""


STAFF: tuple[StaffSeat, ...] = (
    *(StaffSeat(JobFunction.SUCCESS, Role.MEMBER, (t,)) for t in (0, 0, 1, 1, 2)),
    *(StaffSeat(JobFunction.SALES, Role.MEMBER, (t,)) for t in (0, 1, 1, 2, 2)),
    *(StaffSeat(JobFunction.ACCOUNT_MANAGEMENT, Role.MEMBER, (t,)) for t in (0, 0, 1)),
    StaffSeat(JobFunction.ACCOUNT_MANAGEMENT, Role.MANAGER, (2,)),
    *(StaffSeat(JobFunction.SERVICE, Role.MEMBER, team=SUPPORT_TEAM) for _ in range(5)),
    StaffSeat(JobFunction.SERVICE, Role.MANAGER, team=SUPPORT_TEAM),
    *(StaffSeat(JobFunction.MARKETING, Role.MEMBER, team=MARKETING_TEAM) for _ in range(3)),
    *(StaffSeat(JobFunction.ANALYST, Role.MEMBER) for _ in range(2)),
)


@dataclass(frozen=True)
class DemoLogin:
    """A demo user with a known password, printed by ``patron demo``."""

    username: str
    first_name: str
    last_name: str
    role: str
    function: str
    tiers: tuple[int, ...]
    what: str


DEMO_PASSWORD = "patron-demo"
DEMO_EMAIL_DOMAIN = "demo.patron.example"
DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("csm", "Katarzyna", "Wiśniewska", Role.MEMBER, JobFunction.SUCCESS, (0,), "customer-success manager"),
    DemoLogin("ae", "Daniel", "Fischer", Role.MEMBER, JobFunction.SALES, (1,), "account executive"),
    DemoLogin("manager", "Maria", "Ivanova", Role.MANAGER, JobFunction.ACCOUNT_MANAGEMENT, (0, 1), "sales manager"),
    # Made last: its presence marks a finished demo database.
    DemoLogin("admin", "Alex", "Morgan", Role.ADMIN, JobFunction.ANALYST, (), "administrator"),
)

CHANNELS = tuple(Channel.values)

# How often each channel is used, per kind of base (same order as CHANNELS).
CHANNEL_MIX = {
    "company": (0.27, 0.16, 0.12, 0.06, 0.04, 0.05, 0.07, 0.09, 0.03, 0.03, 0.01, 0.07),
    "person": (0.24, 0.16, 0.01, 0.005, 0.05, 0.08, 0.16, 0.16, 0.005, 0.04, 0.002, 0.098),
}
INBOUND_SHARE = {
    "email": 0.45, "phone": 0.4, "video": 0.2, "meeting": 0.2, "in_person": 0.35, "social": 0.7, "chat": 0.85,
    "web": 1.0, "event": 0.5, "letter": 0.2, "fax": 0.6, "sms": 0.15,
}  # fmt: skip

FUNCTIONS = tuple(JobFunction.values)
# Who logs each channel: weights over FUNCTIONS (success, sales, account management, service, marketing, analyst).
CHANNEL_FUNCTIONS = {
    "email": (0.3, 0.25, 0.15, 0.2, 0.1, 0.0),
    "phone": (0.3, 0.3, 0.1, 0.3, 0.0, 0.0),
    "video": (0.5, 0.3, 0.15, 0.05, 0.0, 0.0),
    "meeting": (0.35, 0.3, 0.35, 0.0, 0.0, 0.0),
    "in_person": (0.3, 0.35, 0.35, 0.0, 0.0, 0.0),
    "social": (0.1, 0.2, 0.0, 0.0, 0.7, 0.0),
    "chat": (0.1, 0.05, 0.0, 0.85, 0.0, 0.0),
    "web": (0.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    "event": (0.15, 0.35, 0.1, 0.0, 0.4, 0.0),
    "letter": (0.1, 0.0, 0.5, 0.1, 0.3, 0.0),
    "fax": (0.0, 0.4, 0.2, 0.4, 0.0, 0.0),
    "sms": (0.2, 0.1, 0.0, 0.4, 0.3, 0.0),
}
OUTCOMES = ("completed", "no_answer", "follow_up", "resolved", "scheduled", "not_interested", "")
CHANNEL_OUTCOMES = {
    "email": (0.45, 0.1, 0.2, 0.05, 0.05, 0.02, 0.13),
    "phone": (0.35, 0.2, 0.15, 0.15, 0.1, 0.05, 0.0),
    "video": (0.65, 0.02, 0.2, 0.03, 0.1, 0.0, 0.0),
    "meeting": (0.6, 0.0, 0.25, 0.0, 0.15, 0.0, 0.0),
    "in_person": (0.6, 0.0, 0.25, 0.05, 0.1, 0.0, 0.0),
    "social": (0.3, 0.3, 0.1, 0.0, 0.05, 0.05, 0.2),
    "chat": (0.3, 0.0, 0.1, 0.55, 0.0, 0.0, 0.05),
    "web": (0.1, 0.0, 0.1, 0.0, 0.0, 0.0, 0.8),
    "event": (0.5, 0.0, 0.3, 0.0, 0.15, 0.05, 0.0),
    "letter": (0.7, 0.0, 0.1, 0.0, 0.0, 0.0, 0.2),
    "fax": (0.8, 0.0, 0.1, 0.1, 0.0, 0.0, 0.0),
    "sms": (0.7, 0.1, 0.0, 0.1, 0.1, 0.0, 0.0),
}

SUBJECTS = {
    "email": (
        "Renewal quote for next year", "Follow-up on our call", "Invoice question", "Onboarding checklist",
        "Feature request: bulk export", "Price list update", "Contract amendment", "Introduction to the new CSM",
        "Case study draft for review", "Usage report for last quarter", "Reference request", "Welcome aboard",
    ),
    "phone": (
        "Check-in call", "Billing question answered", "Discovery call", "Renewal discussion", "Escalation call",
        "Follow-up on the proposal", "Login problem solved on the call", "Upsell conversation", "Referral ask",
    ),
    "video": (
        "Quarterly business review", "Product demo", "Admin training session", "Roadmap preview",
        "Success plan workshop", "Kick-off call", "Executive sponsor sync",
    ),
    "meeting": (
        "Quarterly business review on site", "Executive sponsor meeting", "Contract negotiation", "Steering committee",
    ),
    "in_person": ("Site visit", "Lunch with the champion", "Store visit", "Workshop at the customer's office"),
    "social": ("LinkedIn message", "Commented on our case study", "Shared our webinar", "Direct message on X"),
    "chat": (
        "In-app chat: password reset", "In-app chat: export question", "Chat: delivery status", "Chat: plan change",
        "Chat: invoice copy",
    ),
    "web": (
        "Visited the pricing page", "Downloaded the whitepaper", "Registered for a webinar", "Read the help centre",
        "Started a free trial", "Requested a demo",
    ),
    "event": ("Met at the trade fair", "Attended the customer summit", "Joined the user group meetup", "Roadshow"),
    "letter": ("Contract renewal letter", "Welcome pack sent", "Signed order form received", "Thank-you card"),
    "fax": ("Signed order form (fax)", "Purchase order received by fax", "Delivery note (fax)"),
    "sms": ("Appointment reminder", "Delivery notification", "Payment reminder", "Survey invitation"),
}  # fmt: skip

SUMMARIES = (
    "",
    "Went well; agreed next steps and a date for the follow-up.",
    "Customer is happy with the rollout but wants faster support replies.",
    "Budget for next year is not approved yet; revisit in four weeks.",
    "Champion is leaving the company; need a new contact on their side.",
    "Asked for a reference customer in the same industry.",
    "Raised a concern about the price increase.",
    "Usage is up; good moment to talk about more seats.",
    "Sent the requested documents.",
    "No decision yet; waiting for their board.",
    "Solved during the conversation.",
)

TICKET_CATEGORIES = {
    "Billing": ("Invoice shows the wrong VAT rate", "Double charge on the card", "Need a copy of last invoice"),
    "Login": ("Cannot sign in after password reset", "Two-factor code not arriving", "User locked out"),
    "Integration": ("Webhook deliveries failing", "API returns 429 during import", "Sync with accounting stopped"),
    "Bug": ("Report totals do not match", "Export hangs at 99%", "Dashboard shows an error"),
    "How-to": ("How to add a new user", "How to set up approval rules", "Where to change the invoice address"),
    "Performance": ("Search is slow in the mornings", "Pages load slowly from the branch office"),
    "Delivery": ("Order arrived damaged", "Parcel not delivered", "Wrong item in the package"),
    "Data import": ("CSV import rejects dates", "Duplicate contacts after import"),
}

SURVEY_COMMENTS = {
    "promoter": (
        "Great support team, always quick.", "Would recommend to any company our size.",
        "The onboarding was smooth and well planned.", "Saves us hours every week.", "Our CSM really knows us.",
    ),
    "passive": (
        "Does the job, a few rough edges.", "Good product, the price could be lower.",
        "Reports could be more flexible.", "Fine overall.",
    ),
    "detractor": (
        "Too many outages this quarter.", "Support takes days to answer.", "Price went up without more value.",
        "Hard to use for our team.", "We are evaluating alternatives.",
    ),
}  # fmt: skip

CAMPAIGNS = {
    "email": ("Newsletter {q} {y}", 900, 40.0),
    "event": ("Trade fair booth {y} ({q})", 42000, 260.0),
    "social": ("LinkedIn account-based ads {q} {y}", 12000, 120.0),
    "web": ("Search ads {q} {y}", 18000, 90.0),
    "video": ("Webinar series {q} {y}", 4000, 55.0),
    "letter": ("Direct mail: renewal offer {q} {y}", 7500, 180.0),
    "phone": ("Outbound calling {q} {y}", 9000, 110.0),
    "sms": ("SMS promotion {q} {y}", 2500, 35.0),
}

LOST_REASONS = ("Price", "Chose a competitor", "No budget this year", "Timing", "No decision", "Missing feature")
WON_REASONS = ("Best fit for their processes", "Reference call convinced them", "Value for money", "Existing trust")
TITLES = {
    "decision_maker": ("CEO", "Managing Director", "CFO", "COO", "VP Operations", "Owner"),
    "champion": ("Head of Operations", "Operations Manager", "IT Manager", "Head of Customer Service"),
    "influencer": ("Finance Manager", "Procurement Manager", "Team Lead", "Controller"),
    "user": ("Sales Representative", "Warehouse Supervisor", "Accountant", "Analyst", "Service Agent"),
    "billing": ("Accounts Payable Clerk", "Bookkeeper"),
    "technical": ("System Administrator", "IT Specialist", "Software Developer"),
}
CONTACT_ROLES = ("decision_maker", "champion", "influencer", "user", "billing", "technical")
CONTACT_ROLE_MIX = (0.14, 0.14, 0.2, 0.32, 0.1, 0.1)
