"""The address a request came from, through the reverse proxies we run ourselves.

Behind a TLS proxy every request arrives from the proxy: ``REMOTE_ADDR`` is the same for all
users, and a sign-in lockout keyed on it locks everyone out together. Each proxy appends the
address it received the request from to ``X-Forwarded-For``; everything left of what our own
proxies appended was written by the client and may be anything. So with ``TRUSTED_PROXY_HOPS``
= n (the number of our proxies in front of the application) the client is the n-th address
from the right, and nothing further left is ever read. With 0 (the default) the header is
ignored and ``REMOTE_ADDR`` is used, as for a server facing the Internet directly.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address; ``REMOTE_ADDR`` when the request did not pass through as many
    proxies as configured (a health check from inside) or the entry is not an address."""
    remote = request.META.get("REMOTE_ADDR")
    hops = settings.TRUSTED_PROXY_HOPS
    if hops <= 0:
        return remote
    forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [entry for entry in forwarded if entry]
    if len(forwarded) < hops:
        return remote
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
