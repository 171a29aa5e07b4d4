"""Sign-in lockout behind our own TLS proxy (issue #11): the client address is read from
X-Forwarded-For exactly TRUSTED_PROXY_HOPS entries from the right, never further left."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import RequestFactory
from django.urls import reverse

from crm.client_address import client_address
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"  # every request reaches gunicorn from the TLS proxy


def login(client, username, password=PASSWORD, *, forwarded_for):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_one_desk_behind_the_proxy_cannot_lock_a_colleague_out(client, settings, rm1):
    settings.TRUSTED_PROXY_HOPS = 1
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "rm1", "wrong", forwarded_for="192.0.2.66")
    assert login(client, "rm1", forwarded_for="192.0.2.66").status_code == 429

    # rm1 at their own desk, through the same proxy, still gets in.
    assert login(client, "rm1", forwarded_for="192.0.2.10").status_code == 302
    assert AccessAttempt.objects.get().ip_address == "192.0.2.66"


def test_spoofed_addresses_left_of_the_trusted_hops_are_ignored(client, settings, rm1):
    settings.TRUSTED_PROXY_HOPS = 1
    # The attacker writes a new address into X-Forwarded-For each time; the proxy appends theirs.
    for n in range(settings.AXES_FAILURE_LIMIT):
        login(client, "rm1", "wrong", forwarded_for=f"198.51.100.{n}, 192.0.2.66")
    assert login(client, "rm1", forwarded_for="203.0.113.9, 192.0.2.66").status_code == 429
    assert AccessAttempt.objects.get().ip_address == "192.0.2.66"


def test_without_trusted_hops_the_header_is_ignored_as_today(client, rm1):
    assert settings.TRUSTED_PROXY_HOPS == 0
    for n in range(settings.AXES_FAILURE_LIMIT):
        login(client, "rm1", "wrong", forwarded_for=f"198.51.100.{n}")
    # Everyone behind an unconfigured proxy shares its address: that is what the setting is for.
    assert login(client, "rm1", forwarded_for="192.0.2.10").status_code == 429


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "192.0.2.1", PROXY),
        (1, "192.0.2.1", "192.0.2.1"),
        (1, "6.6.6.6, 192.0.2.1", "192.0.2.1"),
        (2, "6.6.6.6, 192.0.2.1, 10.0.0.9", "192.0.2.1"),
        (2, "192.0.2.1", PROXY),  # fewer entries than proxies: not through them all
        (1, "", PROXY),
        (1, "not-an-address", PROXY),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address(settings, hops, forwarded, expected):
    settings.TRUSTED_PROXY_HOPS = hops
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected
