import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language

from config.celery import app as celery_app
from funnel.selectors import home_exceptions
from risk.selectors.alerts import home_alerts

log = logging.getLogger(__name__)


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    return redirect(static("img/favicon.svg"), permanent=True)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Where everyone lands: the unresolved alerts on the customers they see (an RM: their own),
    most severe first, the exception requests waiting for their decision, oldest first, and
    the way to the main pages. Two queries for the alerts and two for the exceptions, however
    many (the count also feeds the top bar's badge)."""
    return render(request, "home.html", {**home_alerts(request.user), **home_exceptions(request.user)})


HEALTH_BUDGET = 1.2  # seconds for all checks together: below a load balancer's usual 2 s
# A few threads shared by every /health/ call: a check that hangs on a silent server keeps its
# thread only until the client's own socket timeout (0.5 s, settings) lets go.
_checks = ThreadPoolExecutor(max_workers=6, thread_name_prefix="health")


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()  # a pool thread's own connection: do not keep it open


def _cache() -> None:
    cache.set("crm:health", "ok", 10)
    if cache.get("crm:health") != "ok":
        raise RuntimeError("cache did not return what was stored")


def _broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=0, timeout=HEALTH_BUDGET)  # type: ignore[arg-type]  # kombu takes seconds as float


def _outcome(future, started: float) -> dict:
    if not future.done():
        return {"ok": False, "error": "no answer", "ms": _ms(started)}
    exc = future.exception()
    if exc is not None:
        log.warning("health check failed: %s", exc)
        return {"ok": False, "error": type(exc).__name__, "ms": _ms(started)}
    return {"ok": True, "ms": future.result()}


def _timed(fn) -> int:
    started = time.monotonic()
    fn()
    return _ms(started)


@login_not_required
@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Database, cache and broker, checked side by side within HEALTH_BUDGET, for a load
    balancer or a person: a silent dependency is reported as down, never waited for. Only the
    database decides the status code: without a broker the pages still work, and background
    work waits in the outbox (crm.jobs) until it is back."""
    started = time.monotonic()
    checks = (("database", _database), ("cache", _cache), ("broker", _broker))
    futures = {name: _checks.submit(_timed, fn) for name, fn in checks}
    wait(futures.values(), timeout=HEALTH_BUDGET)
    answers = {name: _outcome(future, started) for name, future in futures.items()}
    status = 200 if answers["database"]["ok"] else 503
    return JsonResponse(
        {"status": "ok" if all(c["ok"] for c in answers.values()) else "degraded", **answers},
        status=status,
    )


@login_not_required
@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """Django's set_language, plus remembering the choice on the signed-in user."""
    response = set_language(request)
    code = request.POST.get("language", "")
    if request.user.is_authenticated and code in dict(settings.LANGUAGES):
        request.user.language = code
        request.user.save(update_fields=["language"])
    return response
