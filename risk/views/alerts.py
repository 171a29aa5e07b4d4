"""The alert pages: the list (with bulk acknowledge), one alert, and its actions. Thin: access
helper → form → one service call → message and redirect.

The action views answer a plain form with a redirect to a safe ``next`` (the risk dashboard
posts here with ``next=/risk/dashboard/``) or else the alert's page. A transition someone else
got to first is a message, never an error page."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from crm import keyset
from risk.access import access_alert, alerts_for, can_work_alert, can_work_alerts
from risk.filters import AlertFilter
from risk.forms import AssignForm, BulkAcknowledgeForm, ResolveForm
from risk.models import Alert, AlertStatus
from risk.selectors.alerts import alert_actions, alert_page, for_list
from risk.services import AlertTransitionRefused, AssignmentRefused
from risk.services import alert_acknowledge as acknowledge
from risk.services import alert_assign as assign
from risk.services import alert_resolve as resolve


def _next_or(request: HttpRequest, default: str) -> str:
    """Where to go after an action: the ``next`` the form carried if it stays on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _alert_url(alert: Alert) -> str:
    return reverse("risk:alert", args=[alert.code])


def _done(request: HttpRequest, alert: Alert) -> HttpResponse:
    target = _next_or(request, _alert_url(alert))
    if request.htmx:
        # A whole-page visit, so the message and the alert's new state show together.
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    filterset = AlertFilter(request.GET, queryset=alerts_for(request.user), request=request)
    # Newest opened first: the alert status/opened indexes.
    context = {
        **keyset.page_context(request, for_list(filterset.qs), field="opened_at"),
        "filter": filterset,
        "can_work": can_work_alerts(request.user),
    }
    template = "risk/alert_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)


@require_POST
def alerts_acknowledge(request: HttpRequest) -> HttpResponse:
    """Acknowledge the selected alerts the user may see and work that are still open. Codes of
    alerts the user may not see are ignored without a word: they are not counted either."""
    target = _next_or(request, reverse("risk:alerts"))
    form = BulkAcknowledgeForm(request.POST)
    if not form.is_valid():
        messages.warning(request, " ".join(form.errors["codes"]))
        return redirect(target)
    done = moved_on = 0
    for alert in alerts_for(request.user).filter(code__in=form.cleaned_data["codes"]).select_related("customer"):
        if not can_work_alert(request.user, alert):
            continue
        if alert.status != AlertStatus.OPEN:
            moved_on += 1
            continue
        try:
            acknowledge(alert=alert, by=request.user)
        except AlertTransitionRefused:  # acknowledged or resolved by someone in the meantime
            moved_on += 1
        else:
            done += 1
    text = ngettext("%(count)d alert acknowledged.", "%(count)d alerts acknowledged.", done) % {"count": done}
    if moved_on:
        text += " " + ngettext(
            "%(count)d had already moved on (acknowledged or resolved by someone else).",
            "%(count)d had already moved on (acknowledged or resolved by someone else).",
            moved_on,
        ) % {"count": moved_on}
    messages.add_message(request, messages.SUCCESS if done else messages.INFO, text)
    return redirect(target)


def _detail(request: HttpRequest, alert: Alert, *, resolve_form: ResolveForm | None = None, status: int = 200):
    context = {
        "alert": alert,
        "customer": alert.customer,
        **alert_page(alert),
        **alert_actions(request.user, alert, next_url=request.POST.get("next", ""), resolve_form=resolve_form),
    }
    return render(request, "risk/alert_detail.html", context, status=status)


@require_GET
def alert_detail(request: HttpRequest, alert_code) -> HttpResponse:
    return _detail(request, access_alert(request.user, alert_code))


@require_POST
def alert_acknowledge(request: HttpRequest, alert_code) -> HttpResponse:
    alert = access_alert(request.user, alert_code, for_update=True)
    try:
        acknowledge(alert=alert, by=request.user)
    except AlertTransitionRefused as exc:
        messages.warning(request, " ".join(str(p) for p in exc.problems))
    else:
        messages.success(request, _("Alert acknowledged: the team can see you are on it."))
    return _done(request, alert)


@require_POST
def alert_resolve(request: HttpRequest, alert_code) -> HttpResponse:
    alert = access_alert(request.user, alert_code, for_update=True)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        # The note is the point of resolving: say so beside the field, keep what was typed.
        if request.htmx:
            context = alert_actions(request.user, alert, next_url=request.POST.get("next", ""), resolve_form=form)
            return render(request, "risk/_alert_actions.html", context, status=422)
        return _detail(request, alert, resolve_form=form)
    try:
        resolve(alert=alert, by=request.user, note=form.cleaned_data["note"])
    except AlertTransitionRefused as exc:
        messages.warning(request, " ".join(str(p) for p in exc.problems))
    else:
        messages.success(request, _("Alert resolved."))
    return _done(request, alert)


@require_POST
def alert_assign(request: HttpRequest, alert_code) -> HttpResponse:
    alert = access_alert(request.user, alert_code, for_update=True)
    form = AssignForm(request.POST, alert=alert)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["assignee"]))
        return _done(request, alert)
    assignee = form.cleaned_data["assignee"]
    try:
        changed = assign(alert=alert, assignee=assignee, by=request.user)
    except AssignmentRefused as exc:
        messages.warning(request, " ".join(str(p) for p in exc.problems))
    else:
        if changed:
            messages.success(request, _("Assigned to %(person)s.") % {"person": assignee})
        else:
            messages.info(request, _("%(person)s already had this alert.") % {"person": assignee})
    return _done(request, alert)
