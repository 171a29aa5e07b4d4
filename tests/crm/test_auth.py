import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
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


def session_writes(client, path=LIST) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return [q["sql"] for q in queries if "django_session" in q["sql"] and not q["sql"].startswith("SELECT")]


def test_a_busy_user_renews_the_session_once_a_minute_not_on_every_page(client, rm1):
    """Writing the session on every page view costs every page a commit; renewing it at most
    once a minute moves the idle limit by at most that minute."""
    with time_machine.travel("2026-03-01 09:00 +0000", tick=False) as traveller:
        login(client, "rm1")
        for _ in range(5):
            traveller.shift(10)
            assert session_writes(client) == []
        traveller.shift(15)  # 65 s since sign-in
        assert len(session_writes(client)) == 1
        traveller.shift(30)
        assert session_writes(client) == []
        # The renewal 65 s after sign-in set the idle limit: 30 minutes from then.
        traveller.shift(30 * 60 - 31)
        assert client.get(LIST).status_code == 200
        traveller.shift(30 * 60 + 1)
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
