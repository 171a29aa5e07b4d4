"""The result page of a confirmed import, and "Your imports". The page polls its status
fragment with htmx every two seconds until the import has finished; without JavaScript a
reload shows the same."""

from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from customers.selectors.imports import import_for, imports_of


@require_GET
def import_result(request: HttpRequest, import_code: UUID) -> HttpResponse:
    run = import_for(request.user, import_code)
    template = "customers/import_result.html"
    if request.htmx:
        template += "#status"
    return render(request, template, {"run": run})


@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    return render(request, "customers/import_list.html", {"runs": imports_of(request.user)})
