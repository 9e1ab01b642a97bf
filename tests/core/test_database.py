"""The replica router and its pin middleware, in-process (tests/faults/test_replica.py runs them for
real against a streaming standby): where reads go in each situation, and when the pin is set."""

import pytest
from django.db import transaction
from django.http import HttpResponse
from django.test import RequestFactory

from accounts.models import User
from core import database
from core.database import PIN_COOKIE, PrimaryReplicaRouter, ReplicaPinMiddleware, primary_reads, replica_reads

router = PrimaryReplicaRouter()


def test_without_a_web_request_reads_go_to_the_primary():
    # A Celery task, a command, the shell: no opt-in, no replica.
    assert router.db_for_read(User) == "default"


@pytest.mark.django_db(transaction=True)
def test_opted_in_reads_go_to_the_replica_but_not_inside_a_transaction_or_after_a_write():
    with replica_reads():
        assert router.db_for_read(User) == "replica"
        with transaction.atomic():
            assert router.db_for_read(User) == "default"
        assert router.db_for_read(User) == "replica"
        with primary_reads():
            assert router.db_for_read(User) == "default"
        assert router.db_for_write(User) == "default"
        assert router.db_for_read(User) == "default"  # read your writes within the unit of work


def test_sessions_and_the_cache_table_are_read_from_the_primary():
    from django.contrib.sessions.models import Session

    with replica_reads():
        assert router.db_for_read(Session) == "default"


def test_migrations_run_only_on_the_primary():
    assert router.allow_migrate("default", "invoices") is True
    assert router.allow_migrate("replica", "invoices") is False


@pytest.fixture
def with_replica(monkeypatch):
    monkeypatch.setattr(database, "replica_configured", lambda: True)


def _middleware(view):
    return ReplicaPinMiddleware(view)


def test_a_get_that_writes_nothing_reads_the_replica_and_sets_no_pin(with_replica):
    seen = {}

    def view(request):
        seen["db"] = router.db_for_read(User)
        return HttpResponse("ok")

    response = _middleware(view)(RequestFactory().get("/"))
    assert seen["db"] == "replica"
    assert PIN_COOKIE not in response.cookies


@pytest.mark.parametrize("method", ["post", "delete"])
def test_an_unsafe_request_reads_the_primary_and_pins_the_client(with_replica, method):
    seen = {}

    def view(request):
        seen["db"] = router.db_for_read(User)
        return HttpResponse("ok")

    response = _middleware(view)(getattr(RequestFactory(), method)("/"))
    assert seen["db"] == "default"
    assert response.cookies[PIN_COOKIE]["httponly"]


def test_a_get_that_wrote_pins_the_client_and_the_pin_sends_the_next_get_to_the_primary(with_replica):
    def writing_view(request):
        router.db_for_write(User)
        return HttpResponse("ok")

    response = _middleware(writing_view)(RequestFactory().get("/"))
    pin = response.cookies[PIN_COOKIE].value

    seen = {}

    def view(request):
        seen["db"] = router.db_for_read(User)
        return HttpResponse("ok")

    _middleware(view)(RequestFactory(headers={"Cookie": f"{PIN_COOKIE}={pin}"}).get("/"))
    assert seen["db"] == "default"
    _middleware(view)(RequestFactory(headers={"Cookie": f"{PIN_COOKIE}=1"}).get("/"))
    assert seen["db"] == "replica"  # an unsigned pin is no pin
