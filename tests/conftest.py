import pytest

from tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Stored files go to a per-test folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def login(client):
    """Log a user in through the session (allauth log-in itself is tested separately)."""

    def _login(user):
        client.force_login(user)
        return client

    return _login
