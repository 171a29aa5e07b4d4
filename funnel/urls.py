from django.urls import path

from funnel import analytics_views, board_views, list_views, views

app_name = "funnel"

urlpatterns = [
    path("board/", board_views.board, name="board"),
    path("analytics/", analytics_views.analytics, name="analytics"),
    path("deals/", list_views.deal_list, name="list"),
    path("deals/export.csv", list_views.deal_export, {"fmt": "csv"}, name="export_csv"),
    path("deals/export.xlsx", list_views.deal_export, {"fmt": "xlsx"}, name="export_xlsx"),
    path("deals/new/", views.deal_create, name="create"),
    path("deals/<uuid:deal_code>/", views.deal_detail, name="detail"),
    path("deals/<uuid:deal_code>/edit/", views.deal_edit, name="edit"),
    path("deals/<uuid:deal_code>/move/", views.deal_move, name="move"),
    path("deals/<uuid:deal_code>/checklist/", views.checklist_set, name="checklist"),
    path("deals/<uuid:deal_code>/documents/new/", views.document_create, name="document_create"),
    path("deals/<uuid:deal_code>/exceptions/new/", views.exception_request, name="exception_request"),
    path(
        "deals/<uuid:deal_code>/exceptions/<uuid:exception_code>/decide/",
        views.exception_decide,
        name="exception_decide",
    ),
]
