"""The facilities section of the customer page and of the deal page (crm.panels): those apps
may not import risk, so risk registers these providers in ``RiskConfig.ready()``. Each costs
one query however many facilities there are, and shows only what ``facilities_for`` lets the
user see (the page itself has already checked the customer or the deal)."""

from django.http import HttpRequest
from django.utils import timezone

from crm.panels import CUSTOMER_PAGE, DEAL_PAGE, Panel, register
from risk.access import facilities_for
from risk.selectors.facility_pages import facilities_of

TEMPLATE = "risk/_facilities_panel.html"


def customer_facilities(request: HttpRequest, customer) -> Panel | None:
    facilities = facilities_of(facilities_for(request.user).filter(customer_id=customer.pk), today=timezone.localdate())
    if not facilities:
        return None
    return Panel(TEMPLATE, {"facilities": facilities, "customer": customer, "show_deal": True})


def deal_facility(request: HttpRequest, deal) -> Panel | None:
    facilities = facilities_of(facilities_for(request.user).filter(deal_id=deal.pk), today=timezone.localdate())
    if not facilities:
        return None
    return Panel(TEMPLATE, {"facilities": facilities, "show_deal": False})


def register_panels() -> None:
    register(CUSTOMER_PAGE, customer_facilities)
    register(DEAL_PAGE, deal_facility)
