from django.urls import path

from risk import alert_views, dashboard_views, import_views

app_name = "risk"

urlpatterns = [
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("alerts/", alert_views.alert_list, name="alerts"),
    path("alerts/acknowledge/", alert_views.alerts_acknowledge, name="alerts_acknowledge"),
    path("alerts/<uuid:alert_code>/", alert_views.alert_detail, name="alert"),
    path("alerts/<uuid:alert_code>/acknowledge/", alert_views.alert_acknowledge, name="alert_acknowledge"),
    path("alerts/<uuid:alert_code>/resolve/", alert_views.alert_resolve, name="alert_resolve"),
    path("alerts/<uuid:alert_code>/assign/", alert_views.alert_assign, name="alert_assign"),
    path("repayments/import/", import_views.repayment_import, name="repayment_import"),
    path("repayments/import/confirm/", import_views.repayment_import_confirm, name="repayment_import_confirm"),
]
