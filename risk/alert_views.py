"""Alert pages (being built)."""

from django.http import Http404


def _todo(request, *args, **kwargs):
    raise Http404


alert_list = alerts_acknowledge = alert_detail = alert_acknowledge = alert_resolve = alert_assign = _todo
