"""The list filters' <select>: any first, the current choice selected, the signed-in user marked."""

from __future__ import annotations

from django.template import Context, Template

from tests.factories import UserFactory


def render(**context):
    template = Template(
        '{% load patron_ui %}{% filter_select "f-x" "x" "Owner" "Any owner" choices current you=you %}'
    )
    return template.render(Context({"you": None, **context}))


def test_pairs_keep_their_labels_and_the_current_value_is_selected():
    html = render(choices=[("won", "Won"), ("lost", "Lost")], current="lost")
    assert '<option value="">Any owner</option>' in html
    assert '<option value="won">Won</option>' in html
    assert '<option value="lost" selected>Lost</option>' in html


def test_records_are_chosen_by_pk_and_the_signed_in_user_is_marked(db):
    ann, bob = UserFactory(first_name="Ann", last_name="Lee"), UserFactory(first_name="Bob", last_name="Ray")
    html = render(choices=[ann, bob], current=str(bob.pk), you=ann.pk)
    assert f'<option value="{ann.pk}">Ann Lee (you)</option>' in html
    assert f'<option value="{bob.pk}" selected>Bob Ray</option>' in html


def test_plain_values_are_their_own_labels_and_nothing_is_selected_without_a_value():
    html = render(choices=["PL", "BG"], current=None)
    assert '<option value="PL">PL</option>' in html and "selected" not in html
