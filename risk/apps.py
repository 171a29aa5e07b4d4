from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RiskConfig(AppConfig):
    name = "risk"
    verbose_name = _("Risk monitoring")

    def ready(self) -> None:
        from risk import receivers  # noqa: F401  (connects the signal receivers)
        from risk.panels import register_panels

        register_panels()  # the facilities sections of the customer and deal pages
