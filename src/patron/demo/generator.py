"""Generate a realistic customer base, fast and deterministically.

``generate("small")`` builds a B2B base: about 2,000 company accounts in a dozen countries with contacts named
for their country, three years of orders (lines, products in groups) and subscriptions, every channel of
interaction, tickets, NPS/CSAT/CES answers that follow each account's health, campaigns, leads and deals with
their stage histories. ``generate("large")`` builds a B2C base of a million person accounts for scale work.

Account values are lognormal, so a fifth of the accounts brings most of the revenue. Each account follows a
trajectory: steady, growing (order values rise), at risk (orders thin out, scores drop), churned (orders stop,
subscriptions are cancelled, scores fall in the year before), onboarding or prospect.

Rows are built per chunk of accounts with NumPy and written with COPY (PostgreSQL) or ``executemany``
(SQLite), one transaction per chunk, so memory stays flat however large the base.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.contrib.auth.hashers import make_password
from django.db import transaction

from patron.core.models import JobFunction, Role, Team, User
from patron.customers.models import Account, Contact, Order, OrderLine, Product, Subscription
from patron.demo import catalog as cat
from patron.demo.names import COUNTRIES, CompanyNames, name_pool
from patron.demo.writer import BulkWriter
from patron.engagement.models import Interaction, Ticket
from patron.feedback.models import SurveyResponse
from patron.pipeline.models import Campaign, Deal, DealStageChange, Lead

Progress = Callable[[str, int, int], None]

# Per-account averages of each kind of base; ``scale`` overrides them with totals.
PROFILES: dict[str, dict[str, float]] = {
    "company": {"contacts": 4.3, "orders": 22, "interactions": 55, "tickets": 4.0, "leads": 1.2, "chunk": 500},
    "person": {"contacts": 1.0, "orders": 2.8, "interactions": 1.6, "tickets": 0.12, "leads": 0.0, "chunk": 20000},
}
SIZES: dict[str, dict[str, Any]] = {
    "small": {"kind": "company", "accounts": 2000},
    "large": {"kind": "person", "accounts": 1_000_000},
}
SCALE_KEYS = frozenset(
    {"kind", "accounts", "contacts", "orders", "interactions", "tickets", "leads", "campaigns", "chunk"}
)

# Trajectories an account follows over the three years.
STEADY, GROWING, CHURNED, AT_RISK, ONBOARDING, PROSPECT = range(6)
TRAJECTORY_MIX = {
    "company": (0.55, 0.15, 0.12, 0.08, 0.05, 0.05),
    "person": (0.55, 0.10, 0.20, 0.10, 0.05, 0.0),
}
LIFECYCLE = ("active", "active", "churned", "at_risk", "onboarding", "prospect")
VALUE_SIGMA = {"company": 1.25, "person": 1.1}
ORDER_BASE = {"company": 1500.0, "person": 48.0}
SECONDS_PER_DAY = 86400
# Share of customers who answer each survey: B2B accounts answer often, consumers rarely.
SURVEY_RESPONSE_RATES = {
    "company": {
        "onboarding": 0.7,
        "qbr": 0.55,
        "relationship": 0.3,
        "renewal": 0.6,
        "after_ticket": 0.3,
        "purchase": 0.0,
    },
    "person": {
        "onboarding": 0.08,
        "qbr": 0.0,
        "relationship": 0.04,
        "renewal": 0.05,
        "after_ticket": 0.2,
        "purchase": 0.05,
    },
}


@dataclass
class DemoSummary:
    """What a generation run wrote, how long it took, and the demo logins."""

    size: str
    seed: int
    counts: dict[str, int]
    seconds: float
    logins: list[cat.DemoLogin] = field(default_factory=lambda: list(cat.DEMO_LOGINS))
    password: str = cat.DEMO_PASSWORD

    @property
    def rows(self) -> int:
        """Return the number of rows written in all."""
        return sum(self.counts.values())


def resolve_scale(size: str, scale: dict[str, Any] | None) -> dict[str, Any]:
    """Return the full set of counts for ``size``, with ``scale`` overriding any of them."""
    if size not in SIZES:
        raise ValueError(f"Unknown demo size {size!r}; choose one of {', '.join(SIZES)}.")
    unknown = set(scale or {}) - SCALE_KEYS
    if unknown:
        raise ValueError(f"Unknown scale keys {sorted(unknown)}; known: {sorted(SCALE_KEYS)}.")
    out: dict[str, Any] = dict(SIZES[size])
    out.update({k: v for k, v in (scale or {}).items() if k == "kind"})
    kind = out["kind"]
    if kind not in PROFILES:
        raise ValueError(f"Unknown account kind {kind!r}; choose company or person.")
    accounts = int((scale or {}).get("accounts", out["accounts"]))
    if accounts < 1:
        raise ValueError("A demo needs at least one account.")
    profile = PROFILES[kind]
    out["accounts"] = accounts
    for key in ("contacts", "orders", "interactions", "tickets", "leads"):
        out[key] = int((scale or {}).get(key, round(profile[key] * accounts)))
    out["campaigns"] = int((scale or {}).get("campaigns", 36 if kind == "company" else 48))
    out["chunk"] = int((scale or {}).get("chunk", profile["chunk"]))
    if kind == "person":
        out["contacts"] = accounts
    return out


def generate(
    size: str = "small",
    seed: int = 42,
    progress: Progress | None = None,
    scale: dict[str, Any] | None = None,
    *,
    today: dt.date | None = None,
) -> DemoSummary:
    """Fill the current database with a generated customer base and return what was written."""
    started = time.perf_counter()
    counts = resolve_scale(size, scale)
    builder = _Builder(counts, seed, today or dt.date.today(), progress)
    builder.run()
    return DemoSummary(size, seed, dict(sorted(builder.writer.counts.items())), time.perf_counter() - started)


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For per-group ``counts``, return each item's group index and its position within the group."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(int(counts.sum())) - np.repeat(starts, counts)


def pick(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one column index per row from the probability rows ``table[rows]``."""
    cumulative = np.cumsum(table, axis=1)
    cumulative /= cumulative[:, -1:]
    u = rng.random(len(rows))
    return np.minimum((u[:, None] > cumulative[rows]).sum(axis=1), table.shape[1] - 1)


def _probabilities(weights: Any) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return p / p.sum()


@dataclass
class _Accounts:
    """The attributes of one chunk of accounts, one array element per account."""

    ids: np.ndarray
    country: np.ndarray
    industry: np.ndarray
    size: np.ndarray
    tier: np.ndarray
    value: np.ndarray
    trajectory: np.ndarray
    start: np.ndarray
    end: np.ndarray
    health: np.ndarray
    growth: np.ndarray
    owner: np.ndarray
    owner_function: np.ndarray
    team: np.ndarray
    contact_first: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    contact_count: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    names: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    primary: list[tuple[str, str, str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def customer(self) -> np.ndarray:
        """Return which accounts ever bought (everyone but prospects)."""
        return self.trajectory != PROSPECT

    @property
    def active_from(self) -> np.ndarray:
        """Return the day each account's buying starts within the window."""
        return np.maximum(self.start, 0.0)


class _Builder:
    """One generation run: reference data first, then accounts and all that hangs off them, chunk by chunk."""

    def __init__(self, counts: dict[str, Any], seed: int, today: dt.date, progress: Progress | None):
        self.counts = counts
        self.kind: str = counts["kind"]
        self.seed = seed
        self.progress = progress or (lambda stage, done, total: None)
        self.writer = BulkWriter()
        self.days = 365 * 3 + 1
        self.window_start = today - dt.timedelta(days=self.days)
        self.epoch_day = (self.window_start - dt.date(1970, 1, 1)).days
        self.epoch_second = self.epoch_day * SECONDS_PER_DAY
        self.weekday0 = self.window_start.weekday()
        self.py = random.Random(seed)
        self.companies = CompanyNames(seed)
        self.country_p = _probabilities([c.weight for c in COUNTRIES])
        self.pools = [name_pool(c.locale, seed) for c in COUNTRIES]
        self.b2b = self.kind == "company"
        self.unique_domains = Contact.objects.exists()
        self.domains_seen: set[str] = set()

    # The run

    def run(self) -> None:
        """Write everything, committing chunk by chunk."""
        with transaction.atomic():
            self._make_users()
            self._make_products()
            self._make_campaigns()
        self._calibrate()
        total = self.counts["accounts"]
        chunk = max(1, self.counts["chunk"])
        done = 0
        for number, first in enumerate(range(0, total, chunk)):
            n = min(chunk, total - first)
            with transaction.atomic():
                self._chunk(number, n)
            done += n
            self.progress(f"accounts ({sum(self.writer.counts.values()):,} rows)", done, total)
        with transaction.atomic():
            if self.b2b:
                self._open_leads()
            self._make_demo_logins()
            self.writer.finish()

    # Time helpers

    def seconds(self, days: np.ndarray) -> np.ndarray:
        """Return epoch seconds for window days (floats)."""
        return self.epoch_second + np.floor(np.asarray(days) * SECONDS_PER_DAY).astype(np.int64)

    def office_hours(self, rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
        """Move day offsets to office hours on a weekday (B2B) or waking hours any day (B2C); return seconds."""
        day = np.floor(days).astype(np.int64)
        if self.b2b:
            weekday = (self.weekday0 + day) % 7
            day = day - (weekday == 5) + (weekday == 6)
            day = np.where(day >= self.days, day - 3, day)
            hours = 7.0 + 10.5 * rng.random(len(day))
        else:
            hours = 8.0 + 14.0 * rng.random(len(day))
        day = np.clip(day, -4000, self.days - 1)
        return self.epoch_second + day * SECONDS_PER_DAY + (hours * 3600).astype(np.int64)

    # Reference data

    def _make_users(self) -> None:
        """Create teams, staff in every job function and the demo users (all but the admin)."""
        names = cat.TEAM_NAMES[self.kind]
        teams = {
            name: Team.objects.get_or_create(name=name)[0] for name in (*names, cat.SUPPORT_TEAM, cat.MARKETING_TEAM)
        }
        self.password_hash = make_password(cat.DEMO_PASSWORD)
        self.tier_owners: list[list[tuple[int, str]]] = [[], [], []]
        self.function_users: dict[str, list[int]] = {f: [] for f in cat.FUNCTIONS}
        staff_pools = [self.pools[i] for i, c in enumerate(COUNTRIES) if c.code in {"PL", "DE", "GB", "BG", "FR"}]
        rng = random.Random(self.seed + 7)
        for number, seat in enumerate(cat.STAFF):
            pool = staff_pools[number % len(staff_pools)]
            g = rng.randrange(2)
            i, j = rng.randrange(len(pool.first[g])), rng.randrange(len(pool.last[g]))
            username = f"{pool.first_ascii[g][i]}.{pool.last_ascii[g][j]}"
            user = self._user(username, pool.first[g][i], pool.last[g][j], seat.role, seat.function)
            seat_teams = [teams[names[t]] for t in seat.tiers] + ([teams[seat.team]] if seat.team else [])
            user.teams.add(*seat_teams)
            self._register(user, seat.tiers)
        for login in cat.DEMO_LOGINS[:-1]:
            user = self._user(login.username, login.first_name, login.last_name, login.role, login.function)
            user.teams.add(*[teams[names[t]] for t in login.tiers])
            # The demo CSM and AE own a good share of their tier's accounts, so their views are full.
            self._register(user, login.tiers, weight=3 if login.role == Role.MEMBER else 0)
        self.team_ids = np.array([teams[n].pk for n in names], dtype=np.int64)

    def _user(self, username: str, first: str, last: str, role: str, function: str) -> User:
        user, _ = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@{cat.DEMO_EMAIL_DOMAIN}",
                "role": role,
                "job_function": function,
                "password": self.password_hash,
                "is_staff": role == Role.ADMIN,
                "is_superuser": role == Role.ADMIN,
            },
        )
        return user

    def _register(self, user: User, tiers: tuple[int, ...], weight: int = 1) -> None:
        self.function_users[user.job_function].append(user.pk)
        if user.job_function in (JobFunction.SUCCESS, JobFunction.SALES, JobFunction.ACCOUNT_MANAGEMENT):
            for tier in tiers:
                self.tier_owners[tier].extend([(user.pk, user.job_function)] * weight)

    def _make_demo_logins(self) -> None:
        login = cat.DEMO_LOGINS[-1]
        self._user(login.username, login.first_name, login.last_name, login.role, login.function)

    def _make_products(self) -> None:
        """Create the catalogue of the base's kind (kept if it is already there)."""
        items = cat.B2B_CATALOG if self.b2b else cat.B2C_CATALOG
        existing = dict(Product.objects.filter(sku__in=[i.sku for i in items]).values_list("sku", "pk"))
        missing = [i for i in items if i.sku not in existing]
        if missing:
            ids = self.writer.allocate(Product, len(missing))
            stamp = self.writer.datetime(dt.datetime.combine(self.window_start, dt.time(8), dt.UTC))
            self.writer.write(
                Product,
                ("id", "external_id", "created_at", "updated_at", "sku", "name", "product_group"),
                [(int(pk), None, stamp, stamp, i.sku, i.name, i.group) for pk, i in zip(ids, missing, strict=True)],
            )
            existing.update({i.sku: int(pk) for pk, i in zip(ids, missing, strict=True)})
        self.items = items
        self.product_id = np.array([existing[i.sku] for i in items], dtype=np.int64)
        self.price = np.array([i.price for i in items])
        one_off = np.array([not i.recurring for i in items])
        self.one_off_index = np.flatnonzero(one_off)[np.argsort(self.price[one_off])]
        self.one_off_price = self.price[self.one_off_index]
        self.sku_index = {i.sku: n for n, i in enumerate(items)}

    def _make_campaigns(self) -> None:
        """Create campaigns over the three years: name, channel, cost and dates."""
        n = self.counts["campaigns"]
        rng = np.random.default_rng([self.seed, 1])
        channels = list(cat.CAMPAIGNS) if self.b2b else ["email", "sms", "social", "web", "letter", "video"]
        starts = np.sort(rng.uniform(0, self.days - 20, n))
        chosen = [channels[i] for i in rng.integers(0, len(channels), n)]
        ids = self.writer.allocate(Campaign, n)
        rows = []
        self.campaign_start = starts
        self.campaign_id = ids
        self.campaign_channel = chosen
        self.campaign_cost = np.zeros(n)
        for k in range(n):
            template, cost, _ = cat.CAMPAIGNS[chosen[k]]
            day = self.window_start + dt.timedelta(days=int(starts[k]))
            quarter = f"Q{(day.month - 1) // 3 + 1}"
            price = round(cost * float(rng.lognormal(0, 0.35)), -1)
            self.campaign_cost[k] = price
            length = int(rng.integers(1, 10) if chosen[k] in ("event", "letter") else rng.integers(14, 75))
            ends = day + dt.timedelta(days=length)
            stamp = self.writer.datetime(dt.datetime.combine(day, dt.time(9), dt.UTC) - dt.timedelta(days=21))
            name = template.format(q=quarter, y=day.year)
            rows.append(
                (
                    int(ids[k]),
                    None,
                    stamp,
                    stamp,
                    name,
                    chosen[k],
                    f"{price:.2f}",
                    "EUR",
                    day.isoformat(),
                    ends.isoformat(),
                )
            )
        self.writer.write(
            Campaign,
            (
                "id",
                "external_id",
                "created_at",
                "updated_at",
                "name",
                "channel",
                "cost",
                "currency",
                "starts_on",
                "ends_on",
            ),
            rows,
        )

    # Accounts

    def _draw_accounts(self, rng: np.random.Generator, n: int) -> _Accounts:
        """Draw the attributes of ``n`` accounts (no ids, owners or names yet)."""
        kind, days = self.kind, self.days
        country = rng.choice(len(COUNTRIES), size=n, p=self.country_p)
        industry = rng.choice(len(cat.INDUSTRIES), size=n, p=_probabilities([w for _, w in cat.INDUSTRIES]))
        if self.b2b:
            size = rng.choice(len(cat.SIZE_BANDS), size=n, p=_probabilities([b[1] for b in cat.SIZE_BANDS]))
            value = np.array([b[2] for b in cat.SIZE_BANDS])[size] * rng.lognormal(0, VALUE_SIGMA[kind], n)
            tier = np.array([b[4] for b in cat.SIZE_BANDS])[size]
        else:
            size = np.full(n, -1)
            value = rng.lognormal(0, VALUE_SIGMA[kind], n)
            tier = np.where(value > np.exp(1.645 * VALUE_SIGMA[kind]), 0, 1)
        trajectory = rng.choice(6, size=n, p=_probabilities(TRAJECTORY_MIX[kind]))
        start = rng.uniform(-3 * 365, days - 120, n)
        end = np.full(n, float(days))
        churned = trajectory == CHURNED
        start[churned] = rng.uniform(-3 * 365, days - 300, churned.sum())
        low = np.maximum(start[churned], 0) + 120
        end[churned] = low + rng.random(churned.sum()) * (days - 20 - low)
        onboarding = trajectory == ONBOARDING
        start[onboarding] = rng.uniform(days - 90, days - 5, onboarding.sum())
        prospect = trajectory == PROSPECT
        start[prospect] = rng.uniform(days - 420, days - 10, prospect.sum())
        health = np.select(
            [trajectory == GROWING, trajectory == AT_RISK, churned, onboarding],
            [rng.beta(8, 2, n), rng.beta(2, 4, n), rng.beta(2, 5, n), rng.beta(4, 2, n)],
            rng.beta(5, 2, n),
        )
        growth = np.select(
            [trajectory == GROWING, trajectory == AT_RISK],
            [rng.uniform(0.2, 0.5, n), rng.uniform(-0.7, -0.3, n)],
            rng.uniform(-0.05, 0.12, n),
        )
        empty = np.zeros(n, dtype=np.int64)
        return _Accounts(
            empty.copy(), country, industry, size, tier, value, trajectory, start, end, health, growth,
            empty.copy(), empty.copy(), empty.copy(),
        )  # fmt: skip

    def _weights(self, a: _Accounts) -> dict[str, np.ndarray]:
        """Return each account's relative activity for contacts, orders, interactions and tickets."""
        span = np.clip(a.end - a.active_from, 0, None) / 365.0
        touch_span = np.clip(np.minimum(a.end + 45, self.days) - np.maximum(a.start, 0), 1, None) / 365.0
        contacts = np.array([b[3] for b in cat.SIZE_BANDS])[a.size] if self.b2b else np.zeros(len(a))
        return {
            "orders": np.where(a.customer, np.sqrt(a.value) * span, 0.0),
            "interactions": (0.3 + a.value**0.4) * touch_span * (1 + 0.6 * (1 - a.health)),
            "tickets": np.where(a.customer, (0.3 + a.value**0.25) * span * (0.4 + 1.6 * (1 - a.health)), 0.0),
            "contacts": contacts,
            "amount": np.sqrt(a.value),
        }

    def _calibrate(self) -> None:
        """Learn the mean activity weights from a sample, so totals land near the requested counts."""
        rng = np.random.default_rng([self.seed, 999])
        sample = self._draw_accounts(rng, 20_000)
        self.mean_weight = {k: float(v.mean()) or 1.0 for k, v in self._weights(sample).items()}

    def _counts(self, rng: np.random.Generator, weight: np.ndarray, total: int, key: str) -> np.ndarray:
        per_account = total / self.counts["accounts"]
        return rng.poisson(per_account * weight / self.mean_weight[key])

    def _chunk(self, number: int, n: int) -> None:
        """Generate and write ``n`` accounts with everything that belongs to them."""
        rng = np.random.default_rng([self.seed, 100, number])
        py = random.Random(self.seed * 1_000_003 + number)
        a = self._draw_accounts(rng, n)
        a.ids = self.writer.allocate(Account, n)
        self._assign_owners(rng, a)
        weights = self._weights(a)
        self._write_contacts_and_accounts(rng, py, a, weights)
        plans = self._write_subscriptions(py, a)
        self._write_orders(rng, a, weights)
        self._write_interactions(rng, a, weights)
        tickets = self._write_tickets(rng, a, weights)
        self._write_surveys(rng, a, tickets)
        if self.b2b:
            leads = self._write_converted_leads(py, a)
            self._write_deals(py, a, plans, leads)

    def _assign_owners(self, rng: np.random.Generator, a: _Accounts) -> None:
        """Give accounts an owner from their tier's team, and the team itself."""
        a.team = self.team_ids[a.tier]
        for tier in range(3):
            rows = np.flatnonzero(a.tier == tier)
            owners = self.tier_owners[tier]
            choice = rng.integers(0, len(owners), len(rows))
            a.owner[rows] = [owners[c][0] for c in choice]
            a.owner_function[rows] = [cat.FUNCTIONS.index(owners[c][1]) for c in choice]
        if not self.b2b:  # the mass market has no named owner; premium customers do
            a.owner[a.tier != 0] = 0
            a.owner_function[a.tier != 0] = -1

    def _write_contacts_and_accounts(
        self, rng: np.random.Generator, py: random.Random, a: _Accounts, weights: dict[str, np.ndarray]
    ) -> None:
        n = len(a)
        if self.b2b:
            extra = self._counts(
                rng, weights["contacts"], max(self.counts["contacts"] - self.counts["accounts"], 0), "contacts"
            )
            a.contact_count = 1 + extra
        else:
            a.contact_count = np.ones(n, dtype=np.int64)
        total = int(a.contact_count.sum())
        contact_ids = self.writer.allocate(Contact, total)
        a.contact_first = contact_ids[np.cumsum(a.contact_count) - a.contact_count]
        owner_index, position = expand(a.contact_count)
        gender = rng.integers(0, 2, total)
        first_pick = rng.integers(0, 1 << 30, total)
        last_pick = rng.integers(0, 1 << 30, total)
        phone_pick = rng.integers(0, 10**18, total, dtype=np.int64)
        roles = rng.choice(len(cat.CONTACT_ROLES), size=total, p=_probabilities(cat.CONTACT_ROLE_MIX))
        roles[position == 0] = rng.integers(0, 2, int((position == 0).sum()))  # the first is who signs or champions
        opt_out = rng.random(total) < 0.06
        do_not_contact = rng.random(total) < 0.01
        created_days = a.start[owner_index] + np.where(position == 0, 0, rng.uniform(0, 400, total))
        created_days = np.minimum(created_days, self.days - 1)
        created = self.writer.datetimes(self.office_hours(rng, created_days))
        account_created = self.writer.datetimes(self.office_hours(rng, a.start))

        # Account names and domains first: a B2B contact's e-mail uses the company's domain.
        a.names, a.domains = [], []
        countries = [COUNTRIES[c] for c in a.country.tolist()]
        people: list[tuple[str, str, str, str]] = []
        for k in range(total):
            c = int(a.country[owner_index[k]])
            pool, g = self.pools[c], int(gender[k])
            i, j = int(first_pick[k]) % len(pool.first[g]), int(last_pick[k]) % len(pool.last[g])
            people.append((pool.first[g][i], pool.last[g][j], pool.first_ascii[g][i], pool.last_ascii[g][j]))
        a.primary = [people[int(first - contact_ids[0])] for first in a.contact_first.tolist()]
        if self.b2b:
            for row in range(n):
                name = self.companies.make(countries[row])
                domain = self.companies.domain(name, countries[row])
                if domain in self.domains_seen or self.unique_domains:
                    domain = domain.replace(".", f"{int(a.ids[row])}.", 1)
                self.domains_seen.add(domain)
                a.names.append(name)
                a.domains.append(domain)
        else:
            for row in range(n):
                first, last = a.primary[row][:2]
                a.names.append(f"{last}{first}" if countries[row].code == "CN" else f"{first} {last}")

        contact_rows = []
        used: set[str] = set()
        last_account = -1
        for k in range(total):
            row = int(owner_index[k])
            country = countries[row]
            first, last, fa, la = people[k]
            cid = int(contact_ids[k])
            if self.b2b:
                if row != last_account:
                    used, last_account = set(), row
                local = f"{fa}.{la}" if k % 3 else f"{fa[:1]}{la}"
                if local in used:
                    local = f"{local}{position[k]}"
                used.add(local)
                email = f"{local}@{a.domains[row]}"
                role = cat.CONTACT_ROLES[int(roles[k])]
                titles = cat.TITLES[role]
                title = titles[int(first_pick[k] >> 8) % len(titles)]
            else:
                mail = country.mail_domains[int(last_pick[k] >> 8) % len(country.mail_domains)]
                email = f"{fa}.{la}{cid}@{mail}"
                role, title = "", ""
            digits = iter(f"{phone_pick[k]:018d}")
            phone = "".join(next(digits) if ch == "#" else ch for ch in country.phone)
            contact_rows.append(
                (cid, None, created[k], created[k], int(a.ids[row]), first, last, email, phone, title, role,
                 country.language, bool(opt_out[k]), bool(do_not_contact[k]), None)
            )  # fmt: skip

        sizes = [b[0] for b in cat.SIZE_BANDS]
        account_rows = []
        for row in range(n):
            country = countries[row]
            aid = int(a.ids[row])
            account_rows.append(
                (
                    aid,
                    f"CUST-{aid:07d}",
                    account_created[row],
                    account_created[row],
                    a.names[row][:200],
                    "company" if self.b2b else "person",
                    cat.INDUSTRIES[int(a.industry[row])][0] if self.b2b else "",
                    sizes[int(a.size[row])] if self.b2b else "",
                    country.code,
                    country.cities[int(a.ids[row] * 7 + a.country[row]) % len(country.cities)],
                    f"https://www.{a.domains[row]}" if self.b2b else "",
                    int(a.owner[row]) or None,
                    int(a.team[row]),
                    LIFECYCLE[int(a.trajectory[row])],
                )
            )
        self.writer.write(
            Account,
            ("id", "external_id", "created_at", "updated_at", "name", "kind", "industry", "size_band", "country",
             "region", "website", "owner", "team", "lifecycle_stage"),
            account_rows,
        )  # fmt: skip
        self.writer.write(
            Contact,
            ("id", "external_id", "created_at", "updated_at", "account", "first_name", "last_name", "email", "phone",
             "title", "role", "language", "email_opt_out", "do_not_contact", "erased_at"),
            contact_rows,
        )  # fmt: skip

    # Subscriptions

    def _write_subscriptions(self, py: random.Random, a: _Accounts) -> dict[int, float]:
        """Write plans, support and modules per customer; return each account's monthly plan amount."""
        rows, plans = [], {}
        items = self.items
        today = self.days
        recurring = [n for n, i in enumerate(items) if i.recurring]
        if self.b2b:
            plan_for_tier = [
                self.sku_index["ERP-ENTERPRISE"],
                self.sku_index["ERP-BUSINESS"],
                self.sku_index["ERP-STARTER"],
            ]
            support = [self.sku_index[s] for s in ("SUP-STANDARD", "SUP-PREMIUM", "SUP-247")]
            modules = [n for n in recurring if items[n].group == "Modules"]
        else:
            plans_b2c = [n for n in recurring if items[n].group in ("Mobile plans", "Home internet")]
            extras = [n for n in recurring if items[n].group == "TV"]
        sub_ids_needed = []
        for row in range(len(a)):
            traj = int(a.trajectory[row])
            if traj == PROSPECT or (not self.b2b and py.random() > 0.35):
                continue
            start, end, value = float(a.start[row]), float(a.end[row]), float(a.value[row])
            lines: list[tuple[int, float, float, float | None, str]] = []
            if self.b2b:
                tier = int(a.tier[row])
                plan = plan_for_tier[tier]
                monthly = round(items[plan].price * max(0.6, value**0.35) * py.lognormvariate(0, 0.15), -1)
                plans[row] = monthly
                lines.append((plan, monthly, start, None, ""))
                if py.random() < 0.6:
                    s = support[min(2, max(0, 2 - tier + (py.random() < 0.3)))]
                    lines.append((s, items[s].price, start + py.uniform(0, 30), None, ""))
                for m in py.sample(modules, min(len(modules), int(py.expovariate(1 / (0.5 + value**0.3))))):
                    later = traj == GROWING or py.random() < 0.3
                    begin = start + (py.uniform(0.2, 0.8) * (today - max(start, 0)) if later else py.uniform(0, 60))
                    price = round(items[m].price * max(0.5, value**0.3), -1)
                    if py.random() < 0.1 and begin + 400 < today:
                        lines.append((m, price, begin, begin + 365 * py.randint(1, 2), "expired"))
                    else:
                        lines.append((m, price, min(begin, today - 2), None, ""))
            else:
                plan = py.choice(plans_b2c)
                plans[row] = items[plan].price
                lines.append((plan, items[plan].price, start, None, ""))
                if py.random() < 0.3:
                    tv = py.choice(extras)
                    lines.append((tv, items[tv].price, start + py.uniform(0, 200), None, ""))
            for product, monthly, begin, ends, status in lines:
                if traj == CHURNED:
                    begin = min(begin, end - 30)
                if begin >= today:
                    continue
                if status == "expired":
                    ends = min(ends or today, today - 1)
                elif traj == CHURNED:
                    status, ends = "cancelled", max(end, begin + 1)
                elif traj == AT_RISK:
                    status = "past_due" if py.random() < 0.3 else "active"
                elif traj == ONBOARDING:
                    status = "trial" if py.random() < 0.4 else "active"
                else:
                    status = "active"
                renews = None
                if status in ("active", "past_due", "trial"):
                    years = max(1, int(np.ceil((today - begin) / 365.0)))
                    renews = begin + 365 * years
                sub_ids_needed.append((row, product, monthly, begin, ends, renews, status))
        ids = self.writer.allocate(Subscription, len(sub_ids_needed))
        for sid, (row, product, monthly, begin, ends, renews, status) in zip(ids.tolist(), sub_ids_needed, strict=True):
            begin_day = self.epoch_day + int(begin)
            stamp = self.writer.datetimes(np.array([(begin_day * SECONDS_PER_DAY) + 36000]))[0]
            rows.append(
                (sid, f"SUB-{sid:07d}", stamp, stamp, int(a.ids[row]), int(self.product_id[product]), f"{monthly:.2f}", "EUR",
                 _iso(begin_day), _iso(self.epoch_day + int(ends)) if ends is not None else None,
                 _iso(self.epoch_day + int(renews)) if renews is not None else None, status)
            )  # fmt: skip
        self.writer.write(
            Subscription,
            ("id", "external_id", "created_at", "updated_at", "account", "product", "monthly_amount", "currency",
             "started_on", "ends_on", "renews_on", "status"),
            rows,
        )  # fmt: skip
        return plans

    # Orders

    def _write_orders(self, rng: np.random.Generator, a: _Accounts, weights: dict[str, np.ndarray]) -> None:
        """Write orders with lines: fewer and smaller for accounts at risk, larger over time for growing ones."""
        count = self._counts(rng, weights["orders"], self.counts["orders"], "orders")
        who, _ = expand(count)
        total = len(who)
        self._orders_for_surveys: tuple[np.ndarray, np.ndarray] = (who, np.zeros(0))
        if not total:
            return
        traj = a.trajectory[who]
        u = rng.random(total)
        u = np.where(traj == GROWING, np.sqrt(u), np.where(traj == AT_RISK, 1 - np.sqrt(u), u))
        begin, end = a.active_from[who], np.minimum(a.end[who], self.days - 1)
        when = begin + u * np.clip(end - begin, 0, None)
        years_in = (when - begin) / 365.0
        target = (
            ORDER_BASE[self.kind] * weights["amount"][who] / self.mean_weight["amount"]
            * rng.lognormal(0, 0.5, total) * np.exp(a.growth[who] * years_in)
        )  # fmt: skip
        order_ids = self.writer.allocate(Order, total)
        lines_per = 1 + np.minimum(rng.poisson(1.1 if self.b2b else 0.3, total), 4)
        line_order, _ = expand(lines_per)
        share = rng.gamma(2.0, 1.0, len(line_order))
        share /= np.bincount(line_order, weights=share)[line_order]
        line_target = target[line_order] * share
        prices = self.one_off_price
        low = np.searchsorted(prices, line_target / 30)
        high = np.maximum(np.searchsorted(prices, line_target, side="right"), 1)
        low = np.minimum(low, high - 1)
        pos = low + np.floor(rng.random(len(line_order)) * (high - low)).astype(np.int64)
        product = self.one_off_index[pos]
        discount = 1 - (rng.random(len(line_order)) < 0.3) * rng.choice([0.05, 0.1, 0.15], len(line_order))
        unit_cents = np.round(self.price[product] * discount * 100).astype(np.int64)
        quantity = np.maximum(1, np.round(line_target * 100 / unit_cents)).astype(np.int64)
        line_cents = unit_cents * quantity
        order_cents = np.bincount(line_order, weights=line_cents).astype(np.int64)
        order_seconds = self.office_hours(rng, when)
        stamps = self.writer.datetimes(order_seconds)
        dates = self.writer.dates(order_seconds // SECONDS_PER_DAY)
        amounts = self.writer.money(order_cents)
        channels = (
            np.array(["direct", "online", "partner", "phone"])[rng.choice(4, total, p=[0.55, 0.22, 0.17, 0.06])]
            if self.b2b
            else np.array(["online", "store", "phone", "partner"])[rng.choice(4, total, p=[0.55, 0.36, 0.08, 0.01])]
        ).tolist()
        account_ids = a.ids[who].tolist()
        ids = order_ids.tolist()
        self.writer.write(
            Order,
            ("id", "external_id", "created_at", "updated_at", "account", "ordered_at", "amount", "currency", "channel"),
            [
                (
                    ids[k],
                    f"SO-{ids[k]:08d}",
                    stamps[k],
                    stamps[k],
                    account_ids[k],
                    dates[k],
                    amounts[k],
                    "EUR",
                    channels[k],
                )
                for k in range(total)
            ],
        )
        line_ids = self.writer.allocate(OrderLine, len(line_order)).tolist()
        line_stamps = [stamps[k] for k in line_order.tolist()]
        units = self.writer.money(unit_cents)
        line_amounts = self.writer.money(line_cents)
        products = self.product_id[product].tolist()
        order_of_line = order_ids[line_order].tolist()
        quantities = quantity.tolist()
        self.writer.write(
            OrderLine,
            ("id", "created_at", "updated_at", "order", "product", "quantity", "unit_price", "amount"),
            [
                (
                    line_ids[k],
                    line_stamps[k],
                    line_stamps[k],
                    order_of_line[k],
                    products[k],
                    f"{quantities[k]}.000",
                    units[k],
                    line_amounts[k],
                )
                for k in range(len(line_ids))
            ],
        )
        self._orders_for_surveys = (who, when)

    # Interactions

    def _people(self, rng: np.random.Generator, a: _Accounts, who: np.ndarray) -> list[int]:
        return (a.contact_first[who] + np.floor(rng.random(len(who)) * a.contact_count[who]).astype(np.int64)).tolist()

    def _staff(self, rng: np.random.Generator, a: _Accounts, who: np.ndarray, function: np.ndarray) -> np.ndarray:
        """Pick who logged each touch: often the account's owner, otherwise someone in that job function."""
        user = np.zeros(len(who), dtype=np.int64)
        for f, name in enumerate(cat.FUNCTIONS):
            rows = np.flatnonzero(function == f)
            pool = self.function_users[name] or self.function_users[JobFunction.SALES]
            user[rows] = np.array(pool, dtype=np.int64)[rng.integers(0, len(pool), len(rows))]
        by_owner = (a.owner_function[who] == function) & (rng.random(len(who)) < 0.6) & (a.owner[who] > 0)
        user[by_owner] = a.owner[who][by_owner]
        return user

    def _write_interactions(self, rng: np.random.Generator, a: _Accounts, weights: dict[str, np.ndarray]) -> None:
        """Write touchpoints on every channel, logged by people in the job function that uses it."""
        count = self._counts(rng, weights["interactions"], self.counts["interactions"], "interactions")
        who, _ = expand(count)
        total = len(who)
        if not total:
            return
        begin = np.maximum(a.start[who], 0)
        end = np.minimum(a.end[who] + 45, self.days - 0.01)
        when = begin + rng.random(total) * np.clip(end - begin, 0, None)
        channel = rng.choice(len(cat.CHANNELS), total, p=_probabilities(cat.CHANNEL_MIX[self.kind]))
        function_table = np.array([cat.CHANNEL_FUNCTIONS[c] for c in cat.CHANNELS])
        function = pick(rng, function_table, channel)
        logged_by = self._staff(rng, a, who, function)
        automated = (channel == cat.CHANNELS.index("web")) & (rng.random(total) < 0.7)
        logged_by[automated] = 0
        outcome = pick(rng, np.array([cat.CHANNEL_OUTCOMES[c] for c in cat.CHANNELS]), channel)
        inbound = rng.random(total) < np.array([cat.INBOUND_SHARE[c] for c in cat.CHANNELS])[channel]
        subject_pick = rng.integers(0, 1 << 20, total).tolist()
        summary_pick = rng.integers(0, len(cat.SUMMARIES), total).tolist()
        stamps = self.writer.datetimes(self.office_hours(rng, when))
        ids = self.writer.allocate(Interaction, total).tolist()
        contacts = self._people(rng, a, who)
        accounts = a.ids[who].tolist()
        channel_names = [cat.CHANNELS[c] for c in channel.tolist()]
        functions = [cat.FUNCTIONS[f] for f in function.tolist()]
        users = logged_by.tolist()
        outcomes = [cat.OUTCOMES[o] for o in outcome.tolist()]
        directions = ["inbound" if d else "outbound" for d in inbound.tolist()]
        rows = []
        for k in range(total):
            subjects = cat.SUBJECTS[channel_names[k]]
            rows.append(
                (ids[k], None, stamps[k], stamps[k], accounts[k], contacts[k], channel_names[k], directions[k], stamps[k],
                 subjects[subject_pick[k] % len(subjects)], cat.SUMMARIES[summary_pick[k]], outcomes[k],
                 users[k] or None, functions[k])
            )  # fmt: skip
        self.writer.write(
            Interaction,
            ("id", "external_id", "created_at", "updated_at", "account", "contact", "channel", "direction",
             "occurred_at", "subject", "summary", "outcome", "logged_by", "logged_as"),
            rows,
        )  # fmt: skip

    # Tickets

    def _write_tickets(self, rng: np.random.Generator, a: _Accounts, weights: dict[str, np.ndarray]) -> dict[str, Any]:
        """Write support tickets; some phone tickets are solved on the spot by the salesperson who took the call."""
        count = self._counts(rng, weights["tickets"], self.counts["tickets"], "tickets")
        who, _ = expand(count)
        total = len(who)
        if not total:
            return {"who": who, "ids": np.zeros(0, dtype=np.int64), "resolved": np.zeros(0), "hours": np.zeros(0)}
        begin, end = a.active_from[who], np.minimum(a.end[who], self.days - 0.01)
        opened = begin + rng.random(total) * np.clip(end - begin, 0, None)
        categories = list(cat.TICKET_CATEGORIES)
        category = rng.integers(0, len(categories), total)
        channel = np.array(["email", "phone", "chat", "web"])[rng.choice(4, total, p=[0.45, 0.25, 0.2, 0.1])]
        severity = rng.choice(4, total, p=[0.25, 0.5, 0.2, 0.05])
        median_hours = np.array([40.0, 22.0, 9.0, 3.0])[severity] * (1.6 - a.health[who])
        hours = median_hours * rng.lognormal(0, 0.9, total)
        by_sales = (channel == "phone") & (rng.random(total) < 0.35)
        hours[by_sales] = rng.uniform(0.1, 0.9, by_sales.sum())
        function = np.where(by_sales, cat.FUNCTIONS.index(JobFunction.SALES), cat.FUNCTIONS.index(JobFunction.SERVICE))
        handler = self._staff(rng, a, who, function)
        age = self.days - opened
        state = rng.random(total)
        status = np.where(
            age * 24 < hours,
            np.where(state < 0.7, "open", "pending"),
            np.where(state < 0.02, "open", np.where(state < 0.2, "resolved", "closed")),
        )
        status[by_sales] = "closed"
        resolved = np.where(np.isin(status, ["resolved", "closed"]), opened + hours / 24.0, np.nan)
        opened_seconds = self.office_hours(rng, opened)
        resolved_seconds = opened_seconds + (np.nan_to_num(hours) * 3600).astype(np.int64)
        resolved_seconds = np.minimum(resolved_seconds, self.epoch_second + self.days * SECONDS_PER_DAY - 60)
        opened_text = self.writer.datetimes(opened_seconds)
        resolved_text = self.writer.datetimes(resolved_seconds)
        ids = self.writer.allocate(Ticket, total)
        contacts = self._people(rng, a, who)
        accounts = a.ids[who].tolist()
        rows = []
        sub_pick = rng.integers(0, 1 << 20, total).tolist()
        for k, tid in enumerate(ids.tolist()):
            name = categories[category[k]]
            subjects = cat.TICKET_CATEGORIES[name]
            done = not np.isnan(resolved[k])
            sales = bool(by_sales[k])
            description = (
                "Solved by the account executive during the call; no hand-over to support needed."
                if sales
                else f"Customer reports: {subjects[sub_pick[k] % len(subjects)].lower()}."
            )
            rows.append(
                (tid, f"TCK-{tid:07d}", opened_text[k], resolved_text[k] if done else opened_text[k], accounts[k],
                 contacts[k], subjects[sub_pick[k] % len(subjects)], description, str(channel[k]), opened_text[k],
                 resolved_text[k] if done else None, ("low", "normal", "high", "critical")[severity[k]], name,
                 str(status[k]), int(handler[k]) or None, JobFunction.SALES if sales else JobFunction.SERVICE)
            )  # fmt: skip
        self.writer.write(
            Ticket,
            ("id", "external_id", "created_at", "updated_at", "account", "contact", "subject", "description", "channel",
             "opened_at", "resolved_at", "severity", "category", "status", "handled_by", "handled_as"),
            rows,
        )  # fmt: skip
        resolved_day = np.where(np.isnan(resolved), np.nan, (resolved_seconds - self.epoch_second) / SECONDS_PER_DAY)
        return {"who": who, "ids": ids, "resolved": resolved_day, "hours": hours}

    # Surveys

    def health_at(self, a: _Accounts, who: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Return each account's health on ``day``: churned and at-risk accounts were healthy before they slid."""
        base = a.health[who]
        traj = a.trajectory[who]
        slide_end = np.where(traj == CHURNED, a.end[who], self.days)
        slide_len = np.where(traj == CHURNED, 540.0, 365.0)
        before = np.clip((slide_end - day) / slide_len, 0, 1)
        sliding = (traj == CHURNED) | (traj == AT_RISK)
        return np.where(sliding, base + (0.62 - base) * before, base)

    def _write_surveys(self, rng: np.random.Generator, a: _Accounts, tickets: dict[str, Any]) -> None:
        """Write NPS/CSAT/CES answers at onboarding, QBRs, renewals, after tickets and purchases."""
        begin = a.active_from
        end = np.minimum(a.end, self.days - 1)
        who_parts, day_parts, stage_parts, ticket_parts, mood_parts = [], [], [], [], []

        def add(who: np.ndarray, day: np.ndarray, stage: str, keep: float, ticket=None, mood=None) -> None:
            mask = (rng.random(len(who)) < keep) & (day < self.days - 0.5) & (day >= 0)
            who_parts.append(who[mask])
            day_parts.append(day[mask])
            stage_parts.append(np.full(int(mask.sum()), stage))
            ticket_parts.append(np.zeros(int(mask.sum()), dtype=np.int64) if ticket is None else ticket[mask])
            mood_parts.append(np.zeros(int(mask.sum())) if mood is None else mood[mask])

        rate = SURVEY_RESPONSE_RATES[self.kind]
        customers = np.flatnonzero(a.customer & (a.start >= 0))
        add(customers, a.start[customers] + 30 + rng.uniform(0, 10, len(customers)), "onboarding", rate["onboarding"])
        if self.b2b:
            big = np.flatnonzero(a.customer & (a.tier <= 1))
            quarters = np.clip((end[big] - begin[big]) // 91, 0, None).astype(np.int64)
            owner, pos = expand(quarters)
            qday = begin[big][owner] + 91 * (pos + 1) - rng.uniform(0, 20, len(owner))
            add(big[owner], qday, "qbr", rate["qbr"])
            small = np.flatnonzero(a.customer & (a.tier == 2))
            halves = np.clip((end[small] - begin[small]) // 182, 0, None).astype(np.int64)
            owner, pos = expand(halves)
            add(small[owner], begin[small][owner] + 182 * (pos + 1), "relationship", rate["relationship"])
        else:
            everyone = np.flatnonzero(a.customer)
            halves = np.clip((end[everyone] - begin[everyone]) // 182, 0, None).astype(np.int64)
            owner, pos = expand(halves)
            add(everyone[owner], begin[everyone][owner] + 182 * (pos + 1), "relationship", rate["relationship"])
            order_who, order_day = getattr(self, "_orders_for_surveys", (np.zeros(0, dtype=np.int64), np.zeros(0)))
            add(order_who, order_day + rng.uniform(1, 5, len(order_who)), "purchase", rate["purchase"])
        subscribers = np.flatnonzero(a.customer)
        years = np.clip((end[subscribers] - a.start[subscribers]) // 365, 0, None).astype(np.int64)
        owner, pos = expand(years)
        add(
            subscribers[owner],
            a.start[subscribers][owner] + 365 * (pos + 1) - rng.uniform(5, 30, len(owner)),
            "renewal",
            rate["renewal"],
        )
        done = ~np.isnan(tickets["resolved"])
        ticket_rows = np.flatnonzero(done)
        slow = np.where(tickets["hours"][ticket_rows] > 48, -0.2, 0.1)
        add(
            tickets["who"][ticket_rows],
            tickets["resolved"][ticket_rows] + rng.uniform(0.2, 3, len(ticket_rows)),
            "after_ticket",
            rate["after_ticket"],
            ticket=tickets["ids"][ticket_rows],
            mood=slow,
        )
        who = np.concatenate(who_parts)
        if not len(who):
            return
        day = np.concatenate(day_parts)
        stage = np.concatenate(stage_parts)
        ticket = np.concatenate(ticket_parts)
        health = np.clip(self.health_at(a, who, day) + np.concatenate(mood_parts), 0, 1)
        n = len(who)
        nps = np.clip(np.round(rng.normal(1.5 + 8.8 * health, 1.4)), 0, 10).astype(np.int64)
        csat = np.clip(np.round(rng.normal(1.2 + 3.9 * health, 0.6)), 1, 5).astype(np.int64)
        ces = np.clip(np.round(rng.normal(1.5 + 5.5 * health, 0.9)), 1, 7).astype(np.int64)
        asks_nps = np.isin(stage, ["qbr", "renewal", "relationship"]) | (
            (stage == "onboarding") & (rng.random(n) < 0.3)
        )
        asks_csat = np.isin(stage, ["onboarding", "after_ticket", "purchase", "renewal"])
        asks_ces = np.isin(stage, ["onboarding", "after_ticket"])
        comment_pick = rng.integers(0, 1 << 20, n).tolist()
        has_comment = (rng.random(n) < 0.4).tolist()
        stamps = self.writer.datetimes(self.office_hours(rng, day))
        ids = self.writer.allocate(SurveyResponse, n).tolist()
        contacts = self._people(rng, a, who)
        accounts = a.ids[who].tolist()
        rows = []
        for k in range(n):
            score = int(nps[k]) if asks_nps[k] else None
            mood = (
                ("promoter" if score >= 9 else "passive" if score >= 7 else "detractor")
                if score is not None
                else ("promoter" if csat[k] >= 5 else "passive" if csat[k] >= 4 else "detractor")
            )
            comments = cat.SURVEY_COMMENTS[mood]
            rows.append(
                (ids[k], None, stamps[k], stamps[k], accounts[k], contacts[k], str(stage[k]), score,
                 int(csat[k]) if asks_csat[k] else None, int(ces[k]) if asks_ces[k] else None,
                 comments[comment_pick[k] % len(comments)] if has_comment[k] else "", stamps[k], int(ticket[k]) or None)
            )  # fmt: skip
        self.writer.write(
            SurveyResponse,
            ("id", "external_id", "created_at", "updated_at", "account", "contact", "stage", "nps", "csat", "ces",
             "comment", "responded_at", "ticket"),
            rows,
        )  # fmt: skip

    # Leads and deals (B2B)

    def _campaign_before(self, py: random.Random, day: float) -> int | None:
        """Return the index of a campaign that ran in the months before ``day``, if any."""
        hi = int(np.searchsorted(self.campaign_start, day - 20))
        if hi == 0:
            return None
        return py.randrange(max(0, hi - 4), hi)

    def _write_converted_leads(self, py: random.Random, a: _Accounts) -> dict[int, tuple[int, int | None, float]]:
        """Write the leads that became this chunk's new customers; return account row -> (lead, campaign, day)."""
        found: dict[int, tuple[int, int | None, float]] = {}
        wanted = []
        for row in range(len(a)):
            if a.start[row] < 30 or py.random() > 0.65:
                continue
            campaign = self._campaign_before(py, float(a.start[row])) if py.random() < 0.8 else None
            origin = self.campaign_start[campaign] if campaign is not None else float(a.start[row]) - 120
            day = min(float(a.start[row]) - 10, origin + py.uniform(1, 40))
            wanted.append((row, campaign, max(day, 0.0)))
        if not wanted:
            return found
        ids = self.writer.allocate(Lead, len(wanted)).tolist()
        stamps = self.writer.datetimes(self.seconds(np.array([w[2] for w in wanted]) + 0.4))
        converted = self.writer.datetimes(self.seconds(np.array([a.start[w[0]] for w in wanted]) + 0.45))
        rows = []
        sizes = [b[0] for b in cat.SIZE_BANDS]
        for k, (row, campaign, day) in enumerate(wanted):
            first, last, first_ascii, last_ascii = a.primary[row]
            country = COUNTRIES[int(a.country[row])]
            source = (
                self.campaign_channel[campaign]
                if campaign is not None
                else py.choice(("Referral", "Website", "Partner"))
            )
            owner = int(a.owner[row]) if a.owner_function[row] == 1 else py.choice(self.function_users["sales"])
            rows.append(
                (ids[k], None, stamps[k], converted[k], f"{first} {last}", a.names[row][:200],
                 f"{first_ascii}.{last_ascii}@{a.domains[row]}", "",
                 int(self.campaign_id[campaign]) if campaign is not None else None, source, "converted",
                 cat.INDUSTRIES[int(a.industry[row])][0], sizes[int(a.size[row])], country.code, py.randint(60, 98),
                 owner, int(a.team[row]), int(a.ids[row]))
            )  # fmt: skip
            found[row] = (ids[k], campaign, day)
        self.writer.write(Lead, _LEAD_FIELDS, rows)
        return found

    def _open_leads(self) -> None:
        """Write the leads campaigns brought that did not (yet) become customers."""
        rng = np.random.default_rng([self.seed, 2])
        py = random.Random(self.seed + 2)
        converted = self.writer.counts.get(Lead._meta.label, 0)
        remaining = max(0, self.counts["leads"] - converted)
        if not remaining or not len(self.campaign_id):
            return
        efficiency = np.array([cat.CAMPAIGNS[c][2] for c in self.campaign_channel])
        expected = self.campaign_cost / efficiency
        per_campaign = rng.poisson(remaining * expected / expected.sum())
        campaign, _ = expand(per_campaign)
        total = len(campaign)
        day = np.minimum(self.campaign_start[campaign] + rng.uniform(0, 45, total), self.days - 1)
        stamps = self.writer.datetimes(self.office_hours(rng, day))
        ids = self.writer.allocate(Lead, total).tolist()
        tier_names = cat.TEAM_NAMES[self.kind]
        teams = dict(Team.objects.filter(name__in=tier_names).values_list("name", "pk"))
        sizes = [b[0] for b in cat.SIZE_BANDS]
        rows = []
        for k in range(total):
            country_index = int(rng.choice(len(COUNTRIES), p=self.country_p))
            country = COUNTRIES[country_index]
            pool = self.pools[country_index]
            g = py.randrange(2)
            i, j = py.randrange(len(pool.first[g])), py.randrange(len(pool.last[g]))
            company = self.companies.make(country)
            age = self.days - day[k]
            roll = py.random()
            if age < 30:
                status = "new" if roll < 0.6 else "working"
            elif age < 120:
                status = ("working", "qualified", "disqualified")[int(roll * 3)]
            else:
                status = "disqualified" if roll < 0.7 else "qualified"
            fit = {"new": 50, "working": 55, "qualified": 72, "disqualified": 30}[status] + py.randint(-20, 20)
            size = py.randrange(len(sizes))
            rows.append(
                (ids[k], None, stamps[k], stamps[k], f"{pool.first[g][i]} {pool.last[g][j]}", company[:200],
                 f"{pool.first_ascii[g][i]}.{pool.last_ascii[g][j]}@{CompanyNames.domain(company, country)}",
                 "", int(self.campaign_id[campaign[k]]), self.campaign_channel[campaign[k]], status,
                 cat.INDUSTRIES[py.randrange(len(cat.INDUSTRIES))][0], sizes[size], country.code,
                 max(0, min(100, fit)), py.choice(self.function_users["sales"]), teams.get(tier_names[cat.SIZE_BANDS[size][4]]), None)
            )  # fmt: skip
        self.writer.write(Lead, _LEAD_FIELDS, rows)

    def _write_deals(
        self, py: random.Random, a: _Accounts, plans: dict[int, float], leads: dict[int, tuple[int, int | None, float]]
    ) -> None:
        """Write new-business, renewal, expansion and cross-sell deals, each with the stages it went through."""
        stages = ("qualification", "discovery", "proposal", "negotiation")
        sales = self.function_users["sales"]
        days = self.days
        deals: list[tuple] = []

        def add(row: int, owner: int, kind: str, name: str, close: float, amount: float, outcome: str, cycle: float,
                reached: int = 4, lead: int | None = None, campaign: int | None = None) -> None:  # fmt: skip
            opened = close - cycle
            closed = outcome in ("won", "lost")
            if opened < 0 or opened >= days - 1 or (closed and close >= days):
                return
            last = close if closed else days - 1
            steps = reached + (0.5 if closed else 0.0)
            path = [(stages[i], opened + (last - opened) * i / steps) for i in range(reached)]
            if closed:
                path.append((outcome, close))
            reason = py.choice(cat.WON_REASONS if outcome == "won" else cat.LOST_REASONS) if closed else ""
            deals.append(
                (
                    row,
                    owner,
                    kind,
                    name,
                    outcome,
                    amount,
                    close if closed else None,
                    close,
                    lead,
                    campaign,
                    reason,
                    path,
                )
            )

        modules = [i for i in self.items if i.group == "Modules"]
        for row in range(len(a)):
            traj, start, end = int(a.trajectory[row]), float(a.start[row]), float(a.end[row])
            owner = int(a.owner[row]) if a.owner_function[row] in (1, 2) else py.choice(sales)
            short = a.names[row].split(" ")[0][:60]
            monthly = plans.get(row, 0.0)
            value = float(a.value[row])
            if traj == PROSPECT:
                amount = 12 * 890 * max(1.0, value**0.5)
                if py.random() < 0.7:
                    reached = py.randint(1, 4)
                    close = days + py.uniform(20, 120)
                    add(
                        row,
                        owner,
                        "new",
                        f"{short} – first order",
                        close,
                        amount,
                        stages[reached - 1],
                        close - start,
                        reached,
                    )
                else:
                    add(row, owner, "new", f"{short} – first order", days - py.uniform(5, 60), amount, "lost",
                        py.uniform(30, 90), py.randint(1, 4))  # fmt: skip
                continue
            if start >= 0:
                lead, campaign, _ = leads.get(row, (None, None, 0.0))
                add(row, owner, "new", f"{short} – platform", start, 12 * monthly + 6500, "won", py.uniform(30, 150),
                    lead=lead, campaign=campaign)  # fmt: skip
            year = 1
            stop = min(end, days - 1)
            while start + 365 * year < stop:
                add(
                    row,
                    owner,
                    "renewal",
                    f"{short} – renewal {year}",
                    start + 365 * year,
                    12 * monthly,
                    "won",
                    py.uniform(20, 60),
                )
                year += 1
            if traj == CHURNED:
                add(
                    row,
                    owner,
                    "renewal",
                    f"{short} – renewal {year}",
                    end,
                    12 * monthly,
                    "lost",
                    py.uniform(20, 60),
                    py.randint(2, 4),
                )
            elif start + 365 * year - days < 90:
                reached = py.randint(2, 4)
                add(row, owner, "renewal", f"{short} – renewal {year}", start + 365 * year, 12 * monthly, stages[reached - 1],
                    py.uniform(40, 80), reached)  # fmt: skip
            if traj == GROWING:
                for _ in range(py.randint(1, 2)):
                    when = py.uniform(max(start, 0) + 60, stop)
                    add(row, owner, "expansion", f"{short} – more seats", when, 6 * monthly * py.uniform(0.3, 1.0), "won",
                        py.uniform(20, 60))  # fmt: skip
            if py.random() < 0.2 and stop - max(start, 0) > 120:
                when = py.uniform(max(start, 0) + 90, stop + 60)
                module = py.choice(modules)
                amount = 12 * module.price * max(1.0, value**0.3)
                if when >= days:
                    reached = py.randint(1, 4)
                    add(row, owner, "cross_sell", f"{short} – {module.name}", when, amount, stages[reached - 1],
                        py.uniform(60, 120), reached)  # fmt: skip
                else:
                    add(row, owner, "cross_sell", f"{short} – {module.name}", when, amount,
                        "won" if py.random() < 0.55 else "lost", py.uniform(30, 90), py.randint(2, 4))  # fmt: skip
        if not deals:
            return
        ids = self.writer.allocate(Deal, len(deals)).tolist()
        opened_text = self.writer.datetimes(self.seconds(np.array([d[11][0][1] for d in deals]) + 0.4))
        rows: list[tuple] = []
        changes: list[tuple[int, str, float, int]] = []
        for k, (row, owner, kind, name, stage, amount, closed, close, lead, campaign, reason, path) in enumerate(deals):
            last_change = self.writer.datetimes(self.seconds(np.array([path[-1][1] + 0.4])))[0]
            rows.append(
                (ids[k], None, opened_text[k], last_change, int(a.ids[row]), name[:200], kind, stage,
                 f"{round(amount, -1):.2f}", "EUR", _iso(self.epoch_day + int(close)),
                 _iso(self.epoch_day + int(closed)) if closed is not None else None, owner, lead,
                 int(self.campaign_id[campaign]) if campaign is not None else None, reason)
            )  # fmt: skip
            changes.extend((ids[k], step, day, owner) for step, day in path)
        self.writer.write(
            Deal,
            ("id", "external_id", "created_at", "updated_at", "account", "name", "kind", "stage", "amount", "currency",
             "expected_close", "closed_on", "owner", "lead", "campaign", "close_reason"),
            rows,
        )  # fmt: skip
        change_ids = self.writer.allocate(DealStageChange, len(changes)).tolist()
        entered = self.writer.datetimes(self.seconds(np.array([c[2] for c in changes]) + 0.4))
        self.writer.write(
            DealStageChange,
            ("id", "deal", "stage", "entered_at", "changed_by"),
            [(change_ids[k], c[0], c[1], entered[k], c[3]) for k, c in enumerate(changes)],
        )


_LEAD_FIELDS = (
    "id", "external_id", "created_at", "updated_at", "name", "company", "email", "phone", "campaign", "source", "status",
    "industry", "size_band", "country", "fit_score", "owner", "team", "converted_account",
)  # fmt: skip


def _iso(day_number: int) -> str:
    """Return an ISO date for a day number since 1970-01-01."""
    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(day_number))).isoformat()
