"""The one transition helper (core.transitions): a status moves only along its model's table."""

from types import SimpleNamespace

import pytest

from core.exceptions import ApplicationError
from core.transitions import transition

TABLE = {"open": frozenset({"closed", "held"}), "held": frozenset({"open"}), "closed": frozenset()}


def test_an_allowed_move_changes_the_status_and_returns_the_previous_one():
    row = SimpleNamespace(status="open")
    assert transition(row, "held", table=TABLE) == "open"
    assert row.status == "held"


def test_a_move_the_table_does_not_allow_is_refused_and_changes_nothing():
    row = SimpleNamespace(status="closed")
    with pytest.raises(ApplicationError) as refused:
        transition(row, "open", table=TABLE)
    assert refused.value.code == "invalid_transition"
    assert row.status == "closed"


def test_the_model_words_its_own_refusal():
    class Refused(ApplicationError):
        pass

    row = SimpleNamespace(state="held")
    with pytest.raises(Refused, match="held → closed"):
        transition(
            row, "closed", table=TABLE, field="state", refused=lambda a, b: Refused(f"{a} → {b}", code="bad_transition")
        )
