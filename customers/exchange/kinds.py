"""What can be imported: one column spec per kind, and who may import which kind.

Which fields a kind takes is not listed here: a customer row has the fields the customer form
edits (``customers.fields.EDITABLE_FIELDS``) plus its owner, a source row the fields its form
enters (``customers.fields.SOURCE_FIELDS``) plus the customer's credit code. This module only
says how each field is read from a cell; ``_columns`` refuses, when the module loads, a field
without a column or a column without a field, so the lists cannot drift apart.

Headers are matched by the English label, its Chinese translation, the field name and a few
aliases people use in Chinese spreadsheets (e.g. 统一社会信用代码), without regard to case,
spaces or underscores.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils import timezone, translation
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.access import can_add_sources, can_create_customer
from customers.exchange import cells
from customers.fields import EDITABLE_FIELDS, SOURCE_FIELDS
from customers.models import (
    CreditRating,
    CreditReport,
    Customer,
    CustomerStatus,
    FinancialStatement,
    Industry,
    IndustryPosition,
)


@dataclass(frozen=True)
class Column:
    field: str
    label: Promise  # the header exports write and the upload page shows
    parse: Callable[[Any], Any]
    required: bool = True
    default: Any = None
    aliases: tuple[str, ...] = ()  # other header names accepted, e.g. the Chinese ones
    hint: Promise | str = ""  # what to write, shown on the upload page

    def names(self) -> set[str]:
        names = {self.field, *self.aliases}
        for language in ("en", "zh-hans"):
            with translation.override(language):
                names.add(str(self.label))
        names.add(str(self.label))  # the current language, whatever it is
        return {cells.normalize_header(n) for n in names}


@dataclass(frozen=True)
class ImportKind:
    key: str
    label: Promise
    model: type[models.Model]
    columns: tuple[Column, ...]
    duplicate_key: tuple[str, ...]  # the fields that may not repeat within one file
    help: Promise | str = ""

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.field == name)


MONEY = gettext_lazy("Amount in yuan, e.g. 1,234.50")
DATE = gettext_lazy("Date: YYYY-MM-DD, YYYY/MM/DD or an Excel date")


def _labels(choices: type[models.Choices]) -> str:
    return ", ".join(str(label) for label in choices.labels)


def choice_hint(choices: type[models.Choices]) -> Promise:
    return lazy(_labels, str)(choices)


def _columns(fields: Sequence[str], columns: Sequence[Column]) -> tuple[Column, ...]:
    """The columns of ``fields``, in their order: exactly one column per field, none left over."""
    by_field = {column.field: column for column in columns}
    named = sorted(column.field for column in columns)
    if named != sorted(fields):
        raise ImproperlyConfigured(f"Import columns {named} do not match the fields {sorted(fields)}.")
    return tuple(by_field[name] for name in fields)


def _past_day(value: Any) -> date:
    result = cells.day(value)
    if result > timezone.localdate():
        raise cells.CellError(_("This date is in the future."))
    return result


CREDIT_CODE = Column(
    "credit_code",
    gettext_lazy("Credit code"),
    cells.credit_code,
    aliases=("统一社会信用代码", "信用代码", "社会信用代码", "unified social credit code"),
    hint=gettext_lazy("18 characters, the last one a check digit"),
)
_PERIODS = {
    "年报": "annual",
    "年度": "annual",
    "半年报": "half",
    "半年度": "half",
    "季报": "quarter",
    "季度": "quarter",
}

CUSTOMERS = ImportKind(
    "customers",
    gettext_lazy("Customers"),
    Customer,
    duplicate_key=("credit_code",),
    columns=(
        *_columns(
            EDITABLE_FIELDS,
            (
                Column(
                    "name",
                    gettext_lazy("Company name"),
                    cells.text(200),
                    aliases=("company", "公司名称", "企业名称"),
                    hint=gettext_lazy("Up to 200 characters"),
                ),
                CREDIT_CODE,
                Column(
                    "industry",
                    gettext_lazy("Industry"),
                    cells.choice(Industry),
                    aliases=("行业", "所属行业"),
                    hint=choice_hint(Industry),
                ),
                Column(
                    "registered_capital",
                    gettext_lazy("Registered capital (CNY)"),
                    cells.money,
                    aliases=("registered capital", "注册资本", "注册资本(元)"),
                    hint=MONEY,
                ),
                Column(
                    "industry_position",
                    gettext_lazy("Industry position"),
                    cells.choice(IndustryPosition),
                    aliases=("行业地位",),
                    hint=choice_hint(IndustryPosition),
                ),
                Column(
                    "credit_rating",
                    gettext_lazy("External rating"),
                    cells.choice(CreditRating),
                    required=False,
                    default="",
                    aliases=("rating", "credit rating", "external credit rating", "信用评级", "外部评级"),
                    hint=choice_hint(CreditRating),
                ),
                Column(
                    "status",
                    gettext_lazy("Status"),
                    cells.choice(CustomerStatus),
                    required=False,
                    default=CustomerStatus.PROSPECT,
                    aliases=("状态", "客户状态"),
                    hint=choice_hint(CustomerStatus),
                ),
            ),
        ),
        # Not a field of the customer form, where only managers and admins pick an owner.
        Column(
            "owner",
            gettext_lazy("Relationship manager"),
            cells.text(150),
            required=False,
            default="",
            aliases=("owner", "客户经理"),
            hint=gettext_lazy("User name; empty: yourself"),
        ),
    ),
    help=gettext_lazy(
        "Registers new companies. “Relationship manager” is a user name; leave it empty to own them yourself."
    ),
)

CREDIT_REPORTS = ImportKind(
    "credit_reports",
    gettext_lazy("Credit reports"),
    CreditReport,
    duplicate_key=("credit_code", "as_of", "bureau"),
    columns=(
        CREDIT_CODE,
        *_columns(
            SOURCE_FIELDS["credit_report"],
            (
                Column(
                    "as_of",
                    gettext_lazy("Report date"),
                    _past_day,
                    aliases=("as of", "报告日期", "征信报告日期"),
                    hint=DATE,
                ),
                Column(
                    "bureau",
                    gettext_lazy("Bureau"),
                    cells.text(100),
                    required=False,
                    default=CreditReport._meta.get_field("bureau").default,
                    aliases=("征信机构",),
                    hint=gettext_lazy("Empty: PBOC Credit Reference Center"),
                ),
                Column(
                    "rating",
                    gettext_lazy("Bureau rating"),
                    cells.choice(CreditRating),
                    aliases=("rating", "征信评级"),
                    hint=choice_hint(CreditRating),
                ),
                Column(
                    "overdue_count",
                    gettext_lazy("Overdue payments"),
                    cells.count,
                    required=False,
                    default=0,
                    aliases=("overdue count", "逾期次数"),
                    hint=gettext_lazy("Whole number; empty: 0"),
                ),
                Column(
                    "overdue_amount",
                    gettext_lazy("Overdue amount (CNY)"),
                    cells.money,
                    required=False,
                    default=Decimal("0.00"),
                    aliases=("overdue amount", "逾期金额"),
                    hint=gettext_lazy("Amount in yuan; empty: 0"),
                ),
                Column(
                    "outstanding_debt",
                    gettext_lazy("Outstanding debt (CNY)"),
                    cells.money,
                    aliases=("outstanding debt", "未结清债务", "负债余额", "贷款余额"),
                    hint=MONEY,
                ),
                Column(
                    "litigation",
                    gettext_lazy("Pending litigation"),
                    cells.boolean,
                    required=False,
                    default=False,
                    aliases=("litigation", "未决诉讼", "涉诉"),
                    hint=gettext_lazy("Yes or no (是/否); empty: no"),
                ),
            ),
        ),
    ),
    help=gettext_lazy("Adds credit-bureau reports to customers you can see and re-grades those customers."),
)

FINANCIAL_STATEMENTS = ImportKind(
    "financial_statements",
    gettext_lazy("Financial statements"),
    FinancialStatement,
    duplicate_key=("credit_code", "as_of", "period"),
    columns=(
        CREDIT_CODE,
        *_columns(
            SOURCE_FIELDS["financial_statement"],
            (
                Column(
                    "as_of",
                    gettext_lazy("Period end"),
                    _past_day,
                    aliases=("as of", "报告期末", "截止日期", "报表日期"),
                    hint=DATE,
                ),
                Column(
                    "period",
                    gettext_lazy("Period"),
                    cells.choice(FinancialStatement.Period, _PERIODS),
                    required=False,
                    default=FinancialStatement.Period.ANNUAL,
                    aliases=("报告期", "报表类型", "期间"),
                    hint=choice_hint(FinancialStatement.Period),
                ),
                Column(
                    "revenue",
                    gettext_lazy("Revenue (CNY)"),
                    cells.money,
                    aliases=("revenue", "营业收入"),
                    hint=MONEY,
                ),
                Column(
                    "net_profit",
                    gettext_lazy("Net profit (CNY)"),
                    cells.signed_money,
                    aliases=("net profit", "净利润"),
                    hint=gettext_lazy("Amount in yuan, may be negative"),
                ),
                Column(
                    "total_assets",
                    gettext_lazy("Total assets (CNY)"),
                    cells.money,
                    aliases=("total assets", "资产总计", "总资产"),
                    hint=MONEY,
                ),
                Column(
                    "total_liabilities",
                    gettext_lazy("Total liabilities (CNY)"),
                    cells.money,
                    aliases=("total liabilities", "负债合计", "总负债"),
                    hint=MONEY,
                ),
                Column(
                    "current_assets",
                    gettext_lazy("Current assets (CNY)"),
                    cells.money,
                    aliases=("current assets", "流动资产合计", "流动资产"),
                    hint=MONEY,
                ),
                Column(
                    "current_liabilities",
                    gettext_lazy("Current liabilities (CNY)"),
                    cells.money,
                    aliases=("current liabilities", "流动负债合计", "流动负债"),
                    hint=MONEY,
                ),
            ),
        ),
    ),
    help=gettext_lazy(
        "Adds accounts to customers you can see and re-grades those customers. Net profit may be negative."
    ),
)

KINDS = {kind.key: kind for kind in (CUSTOMERS, CREDIT_REPORTS, FINANCIAL_STATEMENTS)}


def kinds_for(user) -> list[ImportKind]:
    """What this user may import: new customers if they may create customers; source data for
    the customers they can see by the same rule as entering it by hand (customers.access)."""
    kinds = [CUSTOMERS] if can_create_customer(user) else []
    if can_add_sources(user):
        kinds += [CREDIT_REPORTS, FINANCIAL_STATEMENTS]
    return kinds
