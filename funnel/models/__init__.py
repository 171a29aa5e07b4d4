"""Deals moving through the method's three-layer funnel (客户关系漏斗).

- ``stages``: the stages, their order and layers, and what admins set per stage;
- ``deal``: a deal, its moves, checklist, documents and terms exceptions;
- ``rollup``: the precomputed figures behind the analytics page;
- ``totals``: per-stage totals of the deals, kept by database triggers (the board's columns)."""

from funnel.models.deal import (
    ChecklistCheck,
    Deal,
    DealDocument,
    DealQuerySet,
    DocumentKind,
    ExceptionStatus,
    StageMove,
    TermsException,
)
from funnel.models.rollup import FunnelRollup, RollupRun
from funnel.models.stages import (
    CLOSED_STAGES,
    LAYER,
    OPEN_STAGES,
    RANK,
    ChecklistItem,
    LostReason,
    ProjectType,
    Stage,
    StageSetting,
    StageSettingQuerySet,
)
from funnel.models.totals import ClosedDayTotal, StageTotal, StageTotalQuerySet

__all__ = [
    "CLOSED_STAGES",
    "LAYER",
    "OPEN_STAGES",
    "RANK",
    "ChecklistCheck",
    "ChecklistItem",
    "ClosedDayTotal",
    "Deal",
    "DealDocument",
    "DealQuerySet",
    "DocumentKind",
    "ExceptionStatus",
    "FunnelRollup",
    "LostReason",
    "ProjectType",
    "RollupRun",
    "Stage",
    "StageMove",
    "StageSetting",
    "StageSettingQuerySet",
    "StageTotal",
    "StageTotalQuerySet",
    "TermsException",
]
