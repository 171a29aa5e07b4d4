"""Repayment import (being built)."""

from django.http import Http404


def _todo(request, *args, **kwargs):
    raise Http404


repayment_import = repayment_import_confirm = _todo
