"""The copy of a customer's owner and team that rows belonging to a customer keep, so that "whose
rows may I see" is an index range (crm.scope.Scope). Database triggers keep it equal to the
customer's by every route: for alerts migration 0006, for facilities 0017."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def customer_owner_and_team() -> tuple[models.ForeignKey, models.ForeignKey]:
    """The two fields, written only by the triggers: ``owner, team = customer_owner_and_team()``."""
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("relationship manager"),
        on_delete=models.PROTECT,
        null=True,
        editable=False,
        db_index=False,
        related_name="+",
    )
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("team"),
        on_delete=models.PROTECT,
        null=True,
        editable=False,
        db_index=False,
        related_name="+",
    )
    return owner, team
