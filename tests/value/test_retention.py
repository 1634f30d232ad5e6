"""Subscription retention by start cohort: survivors per month, sBG fits, visibility, the API and the page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from patron.analytics.lifetime import ShiftedBetaGeometric
from patron.customers.models import SubscriptionStatus
from patron.errors import Invalid, NotFound
from patron.value import services
from tests.factories import AccountFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

END = dt.date(2026, 11, 23)
# The January cohort: 40 subscriptions started on 5 January; how many ended in each of the first months.
JANUARY_LOSSES = {1: 8, 2: 6, 3: 4, 4: 3}
JANUARY_SURVIVORS = [40, 32, 26, 22, 19, 19, 19, 19, 19, 19, 19]  # 10 whole months up to 23 November


def subscriptions(account, start: dt.date, count: int, *, ends_on=None, status=SubscriptionStatus.ACTIVE) -> None:
    for _ in range(count):
        SubscriptionFactory(account=account, started_on=start, ends_on=ends_on, status=status)


@pytest.fixture
def cohorts(member, outsider):
    """The member's accounts hold the January cohort; the outsider's hold the smaller or younger ones."""
    mine = AccountFactory(owner=member)
    theirs = AccountFactory(owner=outsider)
    start = dt.date(2026, 1, 5)
    for month, lost in JANUARY_LOSSES.items():
        # Ended some days into the month after ``month`` renewals: lost in period ``month``.
        subscriptions(
            mine,
            start,
            lost,
            ends_on=services.add_months(start, month - 1) + dt.timedelta(days=12),
            status=SubscriptionStatus.CANCELLED,
        )
    subscriptions(mine, start, 17)
    subscriptions(mine, start, 2, ends_on=dt.date(2027, 1, 5))  # ends after the observation end: still here
    subscriptions(mine, start, 3, status=SubscriptionStatus.CANCELLED)  # no end date: cannot be placed
    subscriptions(theirs, dt.date(2026, 3, 2), 3, ends_on=dt.date(2026, 4, 1), status=SubscriptionStatus.EXPIRED)
    subscriptions(theirs, dt.date(2026, 5, 10), 10)  # nobody left: no churn to fit
    subscriptions(theirs, dt.date(2026, 9, 10), 12)  # two whole months observed
    subscriptions(theirs, dt.date(2026, 12, 1), 4)  # starts after the observation end
    return mine, theirs


def by_cohort(result) -> dict:
    return {c["cohort"]: c for c in result["cohorts"]}


def test_month_helpers():
    assert services.add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert services.add_months(dt.date(2025, 11, 15), 3) == dt.date(2026, 2, 15)
    assert services.full_months(dt.date(2026, 1, 5), dt.date(2026, 11, 23), strictly_before=False) == 10
    assert services.full_months(dt.date(2026, 1, 5), dt.date(2026, 2, 5), strictly_before=False) == 1
    assert services.full_months(dt.date(2026, 1, 5), dt.date(2026, 2, 5), strictly_before=True) == 0
    assert services.cohort_key(dt.date(2026, 8, 3), "quarter") == "2026-Q3"
    assert services.check_cohort("2026-Q3") == ("quarter", dt.date(2026, 7, 1))
    with pytest.raises(Invalid) as raised:
        services.check_cohort("2026-13")
    assert raised.value.field == "cohort"


def test_survivors_per_month_and_a_fit_like_a_direct_one(admin_user, cohorts):
    result = services.subscription_retention(admin_user, cohort_by="month", observation_end=END, periods=4)
    found = by_cohort(result)
    assert list(found) == ["2026-01", "2026-03", "2026-05", "2026-09"]
    january = found["2026-01"]
    assert january["survivors"] == JANUARY_SURVIVORS
    assert january["observed_periods"] == 10 and january["status"] == "fitted" and january["message"] == ""
    direct = ShiftedBetaGeometric().fit(JANUARY_SURVIVORS)
    assert january["params"]["alpha"] == pytest.approx(direct.params["alpha"], rel=1e-6)
    assert january["params"]["beta"] == pytest.approx(direct.params["beta"], rel=1e-6)
    assert january["log_likelihood"] == pytest.approx(direct.log_likelihood, rel=1e-9)
    assert [p["period"] for p in january["projected"]] == [11, 12, 13, 14]
    assert [p["survival"] for p in january["projected"]] == pytest.approx(list(direct.projected_survival(4)))
    assert january["projected"][0]["retention"] == pytest.approx(float(direct.retention(11)))
    assert january["projected"][0]["survival"] < 19 / 40
    assert result["without_end_date"] == 3


def test_cohorts_the_model_cannot_fit_say_why_and_carry_no_numbers(admin_user, cohorts):
    found = by_cohort(services.subscription_retention(admin_user, cohort_by="month", observation_end=END))
    expected = {"2026-03": "too_few_subscribers", "2026-05": "cannot_fit", "2026-09": "too_few_periods"}
    for name, status in expected.items():
        cohort = found[name]
        assert cohort["status"] == status
        assert cohort["message"].startswith("Not fitted:")
        assert cohort["params"] is None and cohort["log_likelihood"] is None
        assert cohort["projected"] == [] and cohort["fitted_survival"] == []
    assert found["2026-03"]["survivors"] == [3] + [0] * 8  # 2 March to 23 November: 8 whole months
    assert found["2026-09"]["survivors"] == [12, 12, 12]
    assert found["2026-05"]["message"] == "Not fitted: No customer left the cohort, so there is no churn to model."


def test_small_monthly_cohorts_are_grouped_by_quarter(admin_user):
    account = AccountFactory(owner=admin_user)
    for month in (1, 2, 3):
        start = dt.date(2025, month, 10)
        subscriptions(account, start, 3, ends_on=services.add_months(start, month - 1) + dt.timedelta(days=3))
        subscriptions(account, start, 2)
    result = services.subscription_retention(admin_user, observation_end=END)
    assert result["cohort_by"] == "quarter"
    quarter = by_cohort(result)["2025-Q1"]
    # The March starters have had 20 whole months; lost: 3 after 1 month, 3 after 2, 3 after 3.
    assert quarter["observed_periods"] == 20
    assert quarter["survivors"][:5] == [15, 12, 9, 6, 6]
    assert quarter["status"] == "fitted"


def test_a_member_sees_only_their_accounts_subscriptions(member, outsider, cohorts):
    mine = services.subscription_retention(member, observation_end=END, cohort_by="month")
    assert [c["cohort"] for c in mine["cohorts"]] == ["2026-01"]
    assert mine["without_end_date"] == 3
    theirs = services.subscription_retention(outsider, observation_end=END, cohort_by="month")
    assert [c["cohort"] for c in theirs["cohorts"]] == ["2026-03", "2026-05", "2026-09"]
    with pytest.raises(NotFound):
        services.subscription_retention(outsider, cohort="2026-01", observation_end=END)


def test_bad_parameters_name_the_field(admin_user):
    for kwargs, name in (
        ({"cohort_by": "week"}, "cohort_by"),
        ({"periods": 0}, "periods"),
        ({"periods": 37}, "periods"),
    ):
        with pytest.raises(Invalid) as raised:
            services.subscription_retention(admin_user, **kwargs)
        assert raised.value.field == name


def test_retention_api(api_for, member, outsider, cohorts):
    assert api_for(None).get("/value/retention").status_code == 401
    assert api_for(None).get("/value/retention/2026-01").status_code == 401
    body = api_for(member).get("/value/retention?cohort_by=month&periods=3").json()
    assert body["cohort_by"] == "month" and body["periods"] == 3
    (january,) = body["cohorts"]
    assert january["cohort"] == "2026-01" and january["status"] == "fitted"
    assert set(january["params"]) == {"alpha", "beta"}
    assert len(january["projected"]) == 3
    assert set(january["projected"][0]) == {"period", "survival", "retention", "subscribers"}
    one = api_for(outsider).get("/value/retention/2026-05")
    assert one.status_code == 200
    assert [c["status"] for c in one.json()["cohorts"]] == ["cannot_fit"]
    assert one.json()["cohorts"][0]["params"] is None
    assert api_for(outsider).get("/value/retention/2026-01").status_code == 404  # the member's cohort
    assert api_for(member).get("/value/retention/2020-02").status_code == 404
    bad = api_for(member).get("/value/retention/2026-13")
    assert bad.status_code == 422 and "cohort" in bad.content.decode()
    assert api_for(member).get("/value/retention?cohort_by=week").status_code == 422


def test_dashboard_shows_the_retention_section(member, outsider, cohorts):
    client = Client()
    client.force_login(member)
    html = client.get(reverse("value:dashboard")).content.decode()
    assert "Subscription retention by cohort" in html
    assert 'id="retention-cohorts"' in html and "2026-01" in html
    assert "Subscription survival by start cohort" in html  # the chart
    assert "2026-05" not in html  # the outsider's cohort
    client.force_login(outsider)
    html = client.get(reverse("value:dashboard")).content.decode()
    assert "Not fitted:" in html and "Subscription survival by start cohort" not in html
    assert "No cohort could be fitted yet" in html


def test_a_failed_fit_is_explained_without_its_estimates():
    message = (
        "sBG cannot be fitted: the data do not determine alpha and beta. Making both 1000 times larger lowers "
        "the log-likelihood by only 0.00, so the estimate alpha and beta = 3.912e+06, 1.633e+07 means nothing."
    )
    assert services._fit_failure_reason(message) == "The data do not determine alpha and beta."
    assert services._fit_failure_reason("sBG cannot be fitted: every customer left in the first period.") == (
        "Every customer left in the first period."
    )
