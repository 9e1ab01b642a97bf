import pytest

from tests.security.world import build_side


@pytest.fixture(autouse=True)
def _simulated_gateway(settings):
    settings.PAYMENT_GATEWAY = "simulated"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def ours(db):
    """Company A with an Administrator, Manager, Payer and Viewer, and one of every object."""
    return build_side("A", full_staff=True)


@pytest.fixture
def theirs(db):
    """Company B (the outsider's) with its own objects of every kind."""
    return build_side("B", full_staff=False)
