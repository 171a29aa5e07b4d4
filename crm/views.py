import logging
import time

from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language

from crm.celery import app as celery_app
from crm.queue import mark_broker_delayed
from risk.selectors_alerts import home_alerts

log = logging.getLogger(__name__)


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    return redirect(static("img/favicon.svg"), permanent=True)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Where everyone lands: the unresolved alerts on the customers they see (an RM: their own),
    most severe first, and the way to the main pages. Two queries for the alerts, however many."""
    return render(request, "crm/home.html", home_alerts(request.user))


def _check(fn) -> dict:
    started = time.monotonic()
    try:
        fn()
    except Exception as exc:  # report any failure of the dependency, never raise from /health/
        log.warning("health check failed: %s", exc)
        return {"ok": False, "error": type(exc).__name__, "ms": _ms(started)}
    return {"ok": True, "ms": _ms(started)}


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    cache.set("crm:health", "ok", 10)
    if cache.get("crm:health") != "ok":
        raise RuntimeError("cache did not return what was stored")


def _broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=1)


@login_not_required
@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Database, cache and broker, for a load balancer or a person. Only the database decides
    the status code: without a broker the pages still work, background work just waits."""
    checks = {"database": _check(_database), "cache": _check(_cache), "broker": _check(_broker)}
    if not checks["broker"]["ok"]:
        mark_broker_delayed()
    status = 200 if checks["database"]["ok"] else 503
    return JsonResponse(
        {"status": "ok" if all(c["ok"] for c in checks.values()) else "degraded", **checks},
        status=status,
    )


@login_not_required
@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """Django's set_language, plus remembering the choice on the signed-in user."""
    response = set_language(request)
    code = request.POST.get("language", "")
    if request.user.is_authenticated and code in dict(request.user._meta.get_field("language").choices):
        request.user.language = code
        request.user.save(update_fields=["language"])
    return response
