"""/manage/activity/: the company's audit trail, filterable and paginated."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditEvent, Role
from tests.accounts.factories import CompanyFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def company():
    return CompanyFactory()


@pytest.fixture
def admin(company):
    return MembershipFactory(company=company, role=Role.ADMINISTRATOR).user


def test_activity_lists_only_this_companys_events(client, company, admin):
    audit_record(action="membership.added", actor=admin, company=company, data={})
    audit_record(action="secret.other", actor=admin, company=CompanyFactory(), data={})
    client.force_login(admin)
    content = client.get(reverse("manage:activity")).content.decode()
    assert "membership.added" in content
    assert "secret.other" not in content


def test_activity_filters_by_user_action_and_date(client, company, admin):
    other = MembershipFactory(company=company, role=Role.MANAGER).user
    audit_record(action="membership.added", actor=admin, company=company)
    audit_record(action="account.removed", actor=other, company=company)
    old = audit_record(action="account.removed", actor=other, company=company)
    AuditEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=30))
    client.force_login(admin)
    url = reverse("manage:activity")

    by_user = client.get(url, {"user": other.pk}).context["events"]
    assert {e.actor for e in by_user} == {other}
    by_action = client.get(url, {"action": "membership.added"}).context["events"]
    assert [e.action for e in by_action] == ["membership.added"]
    today = timezone.localdate().isoformat()
    by_date = client.get(url, {"date_from": today, "date_to": today}).context["events"]
    assert old.pk not in [e.pk for e in by_date]
    assert len(by_date) == 2


def test_activity_is_paginated(client, company, admin):
    for n in range(30):
        audit_record(action=f"test.event{n:02d}", actor=admin, company=company)
    client.force_login(admin)
    first = client.get(reverse("manage:activity"))
    second = client.get(reverse("manage:activity"), {"page": 2})
    assert len(first.context["events"]) == 25
    assert len(second.context["events"]) == 5
    assert f"company={company.pk}" in first.context["filter_query"]


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "yesterday"},
        {"user": "abc"},
        {"action": "<script>"},
        {"page": "999"},
        {"date_from": "2026-12-01", "date_to": "2026-01-01"},
    ],
)
def test_bad_filters_never_500(client, admin, params):
    client.force_login(admin)
    assert client.get(reverse("manage:activity"), params).status_code == 200
