from django.urls import path

from risk.views import alerts, dashboard, facilities, imports

app_name = "risk"

urlpatterns = [
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("alerts/", alerts.alert_list, name="alerts"),
    path("alerts/acknowledge/", alerts.alerts_acknowledge, name="alerts_acknowledge"),
    path("alerts/<uuid:alert_code>/", alerts.alert_detail, name="alert"),
    path("alerts/<uuid:alert_code>/acknowledge/", alerts.alert_acknowledge, name="alert_acknowledge"),
    path("alerts/<uuid:alert_code>/resolve/", alerts.alert_resolve, name="alert_resolve"),
    path("alerts/<uuid:alert_code>/assign/", alerts.alert_assign, name="alert_assign"),
    path("facilities/", facilities.facility_list, name="facilities"),
    path("facilities/export.csv", facilities.facility_export, {"fmt": "csv"}, name="facilities_export_csv"),
    path("facilities/export.xlsx", facilities.facility_export, {"fmt": "xlsx"}, name="facilities_export_xlsx"),
    path("facilities/<uuid:facility_code>/", facilities.facility_detail, name="facility"),
    path("facilities/<uuid:facility_code>/repayments/", facilities.facility_repayment, name="facility_repayment"),
    path("repayments/import/", imports.repayment_import, name="repayment_import"),
    path("repayments/import/confirm/", imports.repayment_import_confirm, name="repayment_import_confirm"),
]
