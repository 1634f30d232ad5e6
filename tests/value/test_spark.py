"""Scoring the CRM on Spark gives the same scores as on DuckDB."""

from __future__ import annotations

import pytest

from patron.value import services
from patron.value.models import AccountScore

pytestmark = [pytest.mark.django_db, pytest.mark.spark, pytest.mark.xdist_group("spark")]


def test_spark_and_duckdb_score_the_crm_alike(base, admin_user):
    duck = services.run_scoring(admin_user, engine="duckdb")
    spark = services.run_scoring(admin_user, engine="spark")
    assert spark.engine == "spark" and spark.settings["engine"] == "spark"

    def scores(run):
        rows = AccountScore.objects.filter(run=run).order_by("account_id")
        return [(s.account_id, s.abc_tier, s.lifecycle_class, s.rfm_segment, s.frequency, s.revenue) for s in rows]

    assert scores(spark) == scores(duck)
    clv = dict(AccountScore.objects.filter(run=duck).values_list("account_id", "clv"))
    for account_id, value in AccountScore.objects.filter(run=spark).values_list("account_id", "clv"):
        assert value == pytest.approx(clv[account_id], rel=1e-6)
