from django.urls import path

from customers import exchange_views, grading_views, overview_views, views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("import/", exchange_views.customer_import, name="import"),
    path("import/confirm/", exchange_views.customer_import_confirm, name="import_confirm"),
    path("export.csv", exchange_views.customer_export, {"fmt": "csv"}, name="export_csv"),
    path("export.xlsx", exchange_views.customer_export, {"fmt": "xlsx"}, name="export_xlsx"),
    path("tiers/", overview_views.tier_overview, name="tiers"),
    path("data-quality/", overview_views.data_quality, name="data_quality"),
    path("<uuid:customer_code>/", views.customer_detail, name="detail"),
    path("<uuid:customer_code>/edit/", views.customer_edit, name="edit"),
    path("<uuid:customer_code>/notes/", views.activity_create, name="activity_create"),
    path("<uuid:customer_code>/review/", grading_views.customer_review, name="review"),
    path("<uuid:customer_code>/override/", grading_views.override_create_view, name="override"),
    path(
        "<uuid:customer_code>/credit-reports/new/",
        grading_views.source_create,
        {"kind": "credit_report"},
        name="credit_report_create",
    ),
    path(
        "<uuid:customer_code>/financial-statements/new/",
        grading_views.source_create,
        {"kind": "financial_statement"},
        name="financial_statement_create",
    ),
    path(
        "<uuid:customer_code>/funding-needs/new/",
        grading_views.source_create,
        {"kind": "funding_need"},
        name="funding_need_create",
    ),
    path(
        "<uuid:customer_code>/cooperation/new/",
        grading_views.source_create,
        {"kind": "cooperation_record"},
        name="cooperation_record_create",
    ),
    path("<uuid:customer_code>/contacts/new/", views.contact_create, name="contact_create"),
    path(
        "<uuid:customer_code>/contacts/<uuid:contact_code>/edit/",
        views.contact_edit,
        name="contact_edit",
    ),
    path(
        "<uuid:customer_code>/contacts/<uuid:contact_code>/delete/",
        views.contact_delete,
        name="contact_delete",
    ),
]
