"""Deals: every stage they enter is kept; won and lost need a reason and get a closing date."""

from __future__ import annotations

import pytest
from django.utils import timezone

from patron.errors import Invalid
from patron.pipeline import services
from patron.pipeline.models import DealStageChange
from tests.factories import AccountFactory, CampaignFactory, DealFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(member):
    return AccountFactory(owner=member)


def test_a_new_deal_starts_its_stage_history_and_is_owned_by_its_creator(api_for, member, account):
    response = api_for(member).post("/deals", {"account_id": account.pk, "name": "Expansion", "kind": "expansion"})
    assert response.status_code == 201
    body = response.json()
    assert body["owner_id"] == member.pk
    assert [(s["stage"], s["changed_by_id"]) for s in body["stage_history"]] == [("qualification", member.pk)]


def test_moving_a_deal_records_each_stage_and_closing_needs_a_reason(api_for, member, account):
    deal_id = api_for(member).post("/deals", {"account_id": account.pk, "name": "Renewal"}).json()["id"]
    api = api_for(member)
    assert api.patch(f"/deals/{deal_id}", {"stage": "proposal"}).status_code == 200
    refused = api.patch(f"/deals/{deal_id}", {"stage": "won"})
    assert refused.status_code == 422
    assert refused.json()["field"] == "close_reason"
    won = api.post(f"/deals/{deal_id}/stage", {"stage": "won", "close_reason": "Best price"})
    assert won.status_code == 200
    body = won.json()
    assert body["closed_on"] == timezone.localdate().isoformat()
    assert [s["stage"] for s in body["stage_history"]] == ["qualification", "proposal", "won"]
    listed = api.get(f"/deals?account_id={account.pk}").json()["items"][0]
    assert "stage_history" not in listed


def test_a_change_that_keeps_the_stage_adds_no_history(api_for, member, account):
    deal = DealFactory(account=account)
    api_for(member).patch(f"/deals/{deal.pk}", {"amount": "500.00"})
    assert not DealStageChange.objects.filter(deal=deal).exists()


def test_reopening_clears_the_closing(member, account):
    deal = DealFactory(account=account)
    services.move_deal(member, deal.pk, "lost", close_reason="No budget")
    reopened = services.move_deal(member, deal.pk, "negotiation")
    assert (reopened.closed_on, reopened.close_reason) == (None, "")
    assert list(deal.stage_history.values_list("stage", flat=True)) == ["lost", "negotiation"]
    with pytest.raises(Invalid):
        services.move_deal(member, deal.pk, "won")


def test_deals_filter_by_stage_owner_kind_and_openness(api_for, member, manager, account):
    wanted = DealFactory(account=account, stage="proposal", owner=member, kind="renewal")
    DealFactory(account=account, stage="won", owner=member, kind="renewal", close_reason="ok")
    DealFactory(account=account, stage="proposal", owner=manager, kind="renewal")
    DealFactory(account=account, stage="proposal", owner=member, kind="expansion")
    api = api_for(member)
    found = api.get(f"/deals?account_id={account.pk}&stage=proposal&owner_id={member.pk}&kind=renewal").json()
    assert [d["id"] for d in found["items"]] == [wanted.pk]
    open_ones = api.get(f"/deals?account_id={account.pk}&open=true").json()["items"]
    assert len(open_ones) == 3


def test_leads_take_their_creators_team_and_filter_by_campaign(api_for, member, team):
    campaign = CampaignFactory()
    response = api_for(member).post("/leads", {"name": "Lena", "campaign_id": campaign.pk})
    assert (response.json()["owner_id"], response.json()["team_id"]) == (member.pk, team.pk)
    LeadFactory(owner=member, campaign=None)
    found = api_for(member).get(f"/leads?campaign_id={campaign.pk}&status=new").json()["items"]
    assert [lead["id"] for lead in found] == [response.json()["id"]]


def test_the_stage_route_is_for_signed_in_users_who_see_the_deal(api_for, outsider, account):
    deal = DealFactory(account=account)
    assert api_for(None).post(f"/deals/{deal.pk}/stage", {"stage": "proposal"}).status_code == 401
    assert api_for(outsider).post(f"/deals/{deal.pk}/stage", {"stage": "proposal"}).status_code == 404
    refused = api_for(outsider).post(f"/deals/{deal.pk}/stage", {"stage": "sideways"})
    assert (refused.status_code, refused.json()["field"]) == (422, "stage")
