from django.urls import path

from customers.views import customers, exchange, grading, imports, overview

app_name = "customers"

urlpatterns = [
    path("", customers.customer_list, name="list"),
    path("new/", customers.customer_create, name="create"),
    path("import/", exchange.customer_import, name="import"),
    path("import/confirm/", exchange.customer_import_confirm, name="import_confirm"),
    path("imports/", imports.import_list, name="imports"),
    path("imports/<uuid:import_code>/", imports.import_result, name="import_result"),
    path("export.csv", exchange.customer_export, {"fmt": "csv"}, name="export_csv"),
    path("export.xlsx", exchange.customer_export, {"fmt": "xlsx"}, name="export_xlsx"),
    path("tiers/", overview.tier_overview, name="tiers"),
    path("data-quality/", overview.data_quality, name="data_quality"),
    path("<uuid:customer_code>/", customers.customer_detail, name="detail"),
    path("<uuid:customer_code>/edit/", customers.customer_edit, name="edit"),
    path("<uuid:customer_code>/notes/", customers.activity_create, name="activity_create"),
    path("<uuid:customer_code>/review/", grading.customer_review, name="review"),
    path("<uuid:customer_code>/override/", grading.override_create_view, name="override"),
    path(
        "<uuid:customer_code>/credit-reports/new/",
        grading.source_create,
        {"kind": "credit_report"},
        name="credit_report_create",
    ),
    path(
        "<uuid:customer_code>/financial-statements/new/",
        grading.source_create,
        {"kind": "financial_statement"},
        name="financial_statement_create",
    ),
    path(
        "<uuid:customer_code>/funding-needs/new/",
        grading.source_create,
        {"kind": "funding_need"},
        name="funding_need_create",
    ),
    path(
        "<uuid:customer_code>/cooperation/new/",
        grading.source_create,
        {"kind": "cooperation_record"},
        name="cooperation_record_create",
    ),
    path("<uuid:customer_code>/contacts/new/", customers.contact_create, name="contact_create"),
    path(
        "<uuid:customer_code>/contacts/<uuid:contact_code>/edit/",
        customers.contact_edit,
        name="contact_edit",
    ),
    path(
        "<uuid:customer_code>/contacts/<uuid:contact_code>/delete/",
        customers.contact_delete,
        name="contact_delete",
    ),
]
