from django.urls import path

from funnel.views import analytics, board, deals, exceptions, lists, move

app_name = "funnel"

urlpatterns = [
    path("board/", board.board, name="board"),
    path("analytics/", analytics.analytics, name="analytics"),
    path("deals/", lists.deal_list, name="list"),
    path("deals/export.csv", lists.deal_export, {"fmt": "csv"}, name="export_csv"),
    path("deals/export.xlsx", lists.deal_export, {"fmt": "xlsx"}, name="export_xlsx"),
    path("deals/new/", deals.deal_create, name="create"),
    path("exceptions/", exceptions.exception_queue_page, name="exceptions"),
    path("deals/<uuid:deal_code>/", deals.deal_detail, name="detail"),
    path("deals/<uuid:deal_code>/edit/", deals.deal_edit, name="edit"),
    path("deals/<uuid:deal_code>/move/", move.deal_move, name="move"),
    path("deals/<uuid:deal_code>/checklist/", deals.checklist_set, name="checklist"),
    path("deals/<uuid:deal_code>/documents/new/", deals.document_create, name="document_create"),
    path("deals/<uuid:deal_code>/exceptions/new/", exceptions.exception_request, name="exception_request"),
    path(
        "deals/<uuid:deal_code>/exceptions/<uuid:exception_code>/decide/",
        exceptions.exception_decide,
        name="exception_decide",
    ),
]
