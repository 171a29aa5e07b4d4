import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LIST = "/customers/"


def login(client, username, password=PASSWORD, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def test_login_with_the_right_password_lands_on_the_home_page(client, rm1):
    response = login(client, "rm1")
    assert response.status_code == 302
    page = client.get(response["Location"], follow=True)
    assert page.request["PATH_INFO"] == "/"
    assert "My alerts" in page.content.decode()


def test_wrong_password_shows_an_error(client, rm1):
    response = login(client, "rm1", "wrong")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_session_key_rotates_at_login(client, rm1):
    client.get(reverse("login"))
    client.session.save()
    before = client.session.session_key
    login(client, "rm1")
    assert client.session.session_key != before


def test_five_failures_lock_that_username_from_that_address(client, rm1):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "rm1", "wrong", REMOTE_ADDR="10.1.1.1")
    locked = login(client, "rm1", REMOTE_ADDR="10.1.1.1")  # even the right password
    assert locked.status_code == 429
    assert "Sign-in paused" in locked.content.decode()
    # The same user from another desk, and another user from this desk, still get in.
    assert login(client, "rm1", REMOTE_ADDR="10.2.2.2").status_code == 302
    client.logout()


def test_lockout_cools_off(client, rm1):
    with time_machine.travel("2026-03-01 09:00 +0000", tick=False) as traveller:
        for _ in range(settings.AXES_FAILURE_LIMIT):
            login(client, "rm1", "wrong", REMOTE_ADDR="10.1.1.1")
        assert login(client, "rm1", REMOTE_ADDR="10.1.1.1").status_code == 429
        traveller.shift(settings.AXES_COOLOFF_TIME.total_seconds() + 60)
        assert login(client, "rm1", REMOTE_ADDR="10.1.1.1").status_code == 302


def test_session_expires_after_thirty_idle_minutes(client, rm1):
    with time_machine.travel("2026-03-01 09:00 +0000", tick=False) as traveller:
        login(client, "rm1")
        traveller.shift(29 * 60)
        assert client.get(LIST).status_code == 200  # activity renews the idle timer
        traveller.shift(29 * 60)
        assert client.get(LIST).status_code == 200
        traveller.shift(31 * 60)
        assert client.get(LIST).status_code == 302


def test_session_ends_after_twelve_hours_however_active(client, rm1):
    with time_machine.travel("2026-03-01 09:00 +0000", tick=False) as traveller:
        login(client, "rm1")
        for _ in range(36):  # a request every 20 minutes until exactly 12 hours
            traveller.shift(20 * 60)
            assert client.get(LIST).status_code == 200
        traveller.shift(1)
        response = client.get(LIST)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_logout_is_post_only(client, rm1):
    client.force_login(rm1)
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(LIST).status_code == 302
