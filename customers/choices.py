"""Choices shared by models and by pure code (grading) that must not import models."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Industry(models.TextChoices):
    ENERGY = "energy", _("Energy and power")
    RENEWABLES = "renewables", _("Renewable energy")
    TRANSPORT = "transport", _("Transport infrastructure")
    WATER = "water", _("Water and environment")
    TELECOM = "telecom", _("Telecom and data centres")
    REAL_ESTATE = "real_estate", _("Real estate and urban development")
    MANUFACTURING = "manufacturing", _("Manufacturing")
    HEALTHCARE = "healthcare", _("Healthcare")
    MINING = "mining", _("Mining and resources")
    AGRICULTURE = "agriculture", _("Agriculture")
    OTHER = "other", _("Other")


class IndustryPosition(models.TextChoices):
    LEADER = "leader", _("Industry leader")
    MAJOR = "major", _("Major player")
    AVERAGE = "average", _("Average")
    MARGINAL = "marginal", _("Marginal")


class CreditRating(models.TextChoices):
    AAA = "AAA", "AAA"
    AA = "AA", "AA"
    A = "A", "A"
    BBB = "BBB", "BBB"
    BB = "BB", "BB"
    B = "B", "B"
    CCC = "CCC", "CCC"
    CC = "CC", "CC"
    C = "C", "C"
    D = "D", "D"


class Tier(models.TextChoices):
    AA = "AA", _("Tier AA")
    A = "A", _("Tier A")
    B = "B", _("Tier B")
    UNRATED = "unrated", _("Unrated")


class CustomerStatus(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    ACTIVE = "active", _("Active")
    DORMANT = "dormant", _("Dormant")
    CLOSED = "closed", _("Closed")


class ActivityKind(models.TextChoices):
    NOTE = "note", _("Note")
    CALL = "call", _("Call")
    MEETING = "meeting", _("Meeting")
    VISIT = "visit", _("Site visit")
    EMAIL = "email", _("E-mail")
