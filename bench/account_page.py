"""Server time of the account 360 page and of the timeline API for an account with 5,000 timeline items.

Seeds a database of its own with the small demo (2,000 B2B accounts), adds one account carrying 5,000
timeline items (interactions, tickets, orders and survey answers), and times ``/accounts/<id>/`` and
``/api/v1/accounts/<id>/timeline`` through Django's full request handling (middleware, auth, view, template,
database; no network), 20 requests each after two warm-ups, as the account's owner (a member) and as an admin.

Baseline: the same two URLs for a typical account of the same owner (its median number of items), measured in
the same run; the ratio shows whether the page's cost grows with the size of the history.

    .venv/bin/python bench/account_page.py                                   # PostgreSQL, patron_bench_page
    .venv/bin/python bench/account_page.py --url sqlite:////tmp/page.sqlite3 # SQLite
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, ensure_postgres_database, percentile, seed, setup_django

HEAVY_ID = "BENCH-HEAVY-5000"
ITEMS = {"interaction": 3600, "ticket": 500, "order": 700, "survey": 200}


def make_heavy_account() -> int:
    """Return the id of the account with 5,000 timeline items, writing it the first time."""
    import datetime as dt

    import numpy as np
    from django.db import transaction

    from patron.core.models import Team, User
    from patron.customers.models import Account, Contact, Order
    from patron.demo.writer import BulkWriter
    from patron.engagement.models import Interaction, Ticket
    from patron.feedback.models import SurveyResponse

    found = Account.objects.filter(external_id=HEAVY_ID).values_list("id", flat=True).first()
    if found:
        return found
    rng = np.random.default_rng(5000)
    owner = User.objects.get(username="csm")
    team = Team.objects.get(name="Enterprise")
    now = int(time.time())
    three_years = 3 * 365 * 86400

    def stamps(n: int) -> np.ndarray:
        return np.sort(now - rng.integers(3600, three_years, n))

    with transaction.atomic():
        writer = BulkWriter()
        account = Account.objects.create(
            name="Heavy History Logistics GmbH", external_id=HEAVY_ID, industry="Logistics", size_band="1000+",
            country="DE", region="Hamburg", owner=owner, team=team, lifecycle_stage="active",
        )  # fmt: skip
        contacts = [
            Contact.objects.create(
                account=account, first_name=f"Person{i}", last_name="Heavy", email=f"p{i}@heavy.example"
            )
            for i in range(12)
        ]
        contact_ids = np.array([c.pk for c in contacts])
        channels = ("email", "phone", "video", "meeting", "chat", "web", "sms", "event", "social", "letter", "fax")

        n = ITEMS["interaction"]
        ids = writer.allocate(Interaction, n).tolist()
        when = writer.datetimes(stamps(n))
        who = contact_ids[rng.integers(0, len(contact_ids), n)].tolist()
        ch = [channels[i] for i in rng.integers(0, len(channels), n)]
        writer.write(
            Interaction,
            ("id", "created_at", "updated_at", "account", "contact", "channel", "direction", "occurred_at", "subject",
             "summary", "outcome", "logged_by", "logged_as"),
            [(ids[k], when[k], when[k], account.pk, who[k], ch[k], "outbound", when[k], f"Touchpoint {k}",
              "Discussed the rollout and next steps.", "completed", owner.pk, "success") for k in range(n)],
        )  # fmt: skip

        n = ITEMS["ticket"]
        ids = writer.allocate(Ticket, n).tolist()
        opened = stamps(n)
        when, done = writer.datetimes(opened), writer.datetimes(opened + 7200)
        writer.write(
            Ticket,
            ("id", "created_at", "updated_at", "account", "subject", "description", "channel", "opened_at",
             "resolved_at", "severity", "category", "status", "handled_as"),
            [(ids[k], when[k], done[k], account.pk, f"Issue {k}", "Customer reports a problem.", "email", when[k],
              done[k], "normal", "Bug", "closed", "service") for k in range(n)],
        )  # fmt: skip

        n = ITEMS["order"]
        ids = writer.allocate(Order, n).tolist()
        seconds = stamps(n)
        when = writer.datetimes(seconds)
        days = writer.dates(seconds // 86400)
        writer.write(
            Order,
            ("id", "created_at", "updated_at", "account", "ordered_at", "amount", "currency", "channel"),
            [(ids[k], when[k], when[k], account.pk, days[k], "1250.00", "EUR", "direct") for k in range(n)],
        )

        n = ITEMS["survey"]
        ids = writer.allocate(SurveyResponse, n).tolist()
        when = writer.datetimes(stamps(n))
        writer.write(
            SurveyResponse,
            ("id", "created_at", "updated_at", "account", "contact", "stage", "nps", "responded_at", "comment"),
            [(ids[k], when[k], when[k], account.pk, int(contact_ids[k % 12]), "qbr", int(rng.integers(5, 11)), when[k],
              "") for k in range(n)],
        )  # fmt: skip
        writer.finish()
    from django.db import connection

    if connection.vendor == "postgresql":  # as autovacuum would, so the planner knows this account is big
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"Made account {account.pk} with {sum(ITEMS.values()):,} timeline items ({dt.date.today()}).")
    return account.pk


def typical_account(owner_username: str) -> tuple[int, int]:
    """Return (id, items) of the owner's account with the median number of timeline items."""
    from django.db.models import Count

    from patron.customers.models import Account

    rows = list(
        Account.objects.filter(owner__username=owner_username)
        .exclude(external_id=HEAVY_ID)
        .annotate(n=Count("interactions", distinct=True) + Count("orders", distinct=True))
        .order_by("n", "id")
        .values_list("id", "n")
    )
    return rows[len(rows) // 2]


def timed(client, url: str, headers: dict | None = None, repeat: int = 20) -> tuple[list[float], int, int]:
    """Return the times (ms) of ``repeat`` GETs of ``url`` after two warm-ups, the status and the query count."""
    from django.db import connection

    for _ in range(2):
        response = client.get(url, headers=headers or {})
        assert response.status_code == 200, (url, response.status_code)
    executed = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(url, headers=headers or {})
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, headers=headers or {})
        times.append((time.perf_counter() - started) * 1000)
    return times, response.status_code, len(executed)


def main() -> int:
    """Seed, build the heavy account and time its page and timeline."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/patron_bench_page")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--persistent", action="store_true", help="keep the DB connection open (CONN_MAX_AGE=600)")
    args = parser.parse_args()
    ensure_postgres_database(args.url)
    setup_django(args.url)
    print(f"$ {command_line()}")
    print(
        f"Database: {args.url}; persistent connection: {'yes' if args.persistent else 'no (CONN_MAX_AGE=0, as shipped)'}"
    )
    if args.persistent:
        from django.db import connection

        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = 600
    seed({"kind": "company", "accounts": 2000})

    from django.test import Client
    from django.urls import reverse

    from patron.core.models import User
    from patron.core.services import create_token

    heavy = make_heavy_account()
    base_id, base_items = typical_account("csm")
    print(f"Heavy account {heavy}: {sum(ITEMS.values()):,} timeline items; baseline account {base_id}: "
          f"{base_items} interactions and orders (the owner's median).")  # fmt: skip
    print(f"{'URL':44} {'user':7} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'baseline ms':>12} {'ratio':>6}")
    for username in ("csm", "admin"):
        user = User.objects.get(username=username)
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        token = {"Authorization": f"Bearer {create_token(user, 'account page bench')[1]}"}
        for name, url_for, headers in (
            ("page", lambda pk: reverse("customers:account_detail", args=[pk]), None),
            ("api", lambda pk: f"/api/v1/accounts/{pk}/timeline", token),
        ):
            heavy_times, _, queries = timed(client, url_for(heavy), headers, args.repeat)
            base_times, _, _ = timed(client, url_for(base_id), headers, args.repeat)
            median, base = statistics.median(heavy_times), statistics.median(base_times)
            label = url_for(heavy) + ("" if name == "page" else " (token)")
            print(f"{label:44} {'member' if username == 'csm' else 'admin':7} {median:>10.1f} "
                  f"{percentile(heavy_times, 0.95):>8.1f} {queries:>8} {base:>12.1f} {median / base:>5.2f}x")  # fmt: skip
    print(
        f"Machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (the figures are noisy when it is high)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
