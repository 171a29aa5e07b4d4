import uuid

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import connections, models
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Least, StrIndex, Upper
from django.db.models.lookups import GreaterThan
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from crm.scope import Scope
from crm.sql import planned_rows
from customers.choices import (
    ActivityKind,
    CreditRating,
    CustomerStatus,
    Industry,
    IndustryPosition,
    Tier,
)
from customers.credit_code import normalize_credit_code, validate_credit_code
from customers.grading import ATTRIBUTES, inputs_missing
from customers.search import TRIGRAM, name_ids_sql, name_rows, name_sample, read_in_order, short_ids_sql

# The tier sort's rank, best first: AA, A, B, Unrated. One expression for the query and for the
# index that serves it (PostgreSQL uses an expression index only for the very same expression);
# the default keeps it NOT NULL, which keyset pages need (crm.keyset).
# The dated sources of the scorecard's inputs (customers.quality.SOURCE_DATES) and the oldest of
# them; PostgreSQL's LEAST skips NULLs (SQLite's MIN() does not: only PostgreSQL filters on it).
SOURCE_DATE_COLUMNS = ("credit_report_date", "statement_date", "funding_need_date")
OLDEST_SOURCE = Least(*SOURCE_DATE_COLUMNS)
# Any input a scorecard usually reads is missing: the data-quality page's partial indexes. Not the
# external credit rating, which most project companies do not have (half the customers): a
# scorecard that reads it finds its incomplete customers without these indexes, as correctly.
ANY_INPUT_MISSING = inputs_missing(name for name in ATTRIBUTES if name != "credit_rating")
# The search's name index on PostgreSQL (pg_trgm on a table of its own, customers/0018) looks a
# text up by its runs of three letters or digits, Chinese characters included. A text without one
# gives it nothing to look up — PostgreSQL would read the whole index (2.9 s at 1M customers) — and
# is looked up by its pairs of characters in a second index (customers/0020). A text that many
# names contain is compared with the names in list order (customers.search.read_in_order).
# One set of ids, names (customers.search) and codes together: with an OR beside it, PostgreSQL
# read the customers in name order and tested each against the set, which for one customer's name
# is every customer.
CODE_IDS_SQL = "SELECT id FROM customers_customer WHERE credit_code LIKE %s"

TIER_RANK = Case(
    *(When(tier=tier, then=Value(rank)) for rank, tier in enumerate(Tier.values)),
    default=Value(len(Tier.values)),
    output_field=IntegerField(),
)


class CustomerQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CustomerQuerySet":
        """Who sees which customer (crm.scope.Scope); every page, export and job uses it."""
        return Scope.of(user).rows(self)

    def search(self, text: str, *, by_name: bool = True) -> "CustomerQuerySet":
        """Customers whose name contains ``text`` or whose credit code starts with it. ``by_name``:
        the caller lists them in name order (the customer list); a list in another order (the
        facility list by date) passes False, and a common text is then tested row by row as the
        list is read, wherever in the alphabet its names are (customers.search.read_in_order)."""
        text = text.strip()
        if not text:
            return self
        # Codes are stored upper-case (validate_credit_code): the code's pattern index serves it.
        code = normalize_credit_code(text)
        db = connections[self.db]
        if db.vendor != "postgresql":
            return self.filter(Q(name__icontains=text) | Q(credit_code__startswith=code))
        sample = name_sample(db)
        # What the list reads in its order, its scope and filters, as PostgreSQL estimates it (a
        # plan, not a run): asked only where the sample holds the text, else it is looked up.
        in_sample = by_name and any(text.upper() in name for name in sample)
        scope_rows = planned_rows(self) if in_sample else None
        if read_in_order(text, sample, by_name=by_name, rows=name_rows(db), scope_rows=scope_rows):
            # strpos rather than LIKE: PostgreSQL estimates a LIKE by the length of its text and
            # plans a long one for a few rows, all read and sorted (1 s for "CO., LTD." at 1M);
            # strpos it takes for a third of them, and reads in list order.
            found = GreaterThan(StrIndex(Upper("name"), Upper(Value(text))), 0)
            return self.filter(Q(found) | Q(credit_code__startswith=code))
        like = db.ops.prep_for_like_query
        lookup = name_ids_sql if TRIGRAM.search(text) else short_ids_sql
        names, params = lookup(f"%{like(text)}%", text, sample)
        ids = RawSQL(f"{names} UNION ALL {CODE_IDS_SQL}", [*params, f"{like(code)}%"])  # noqa: S611 (parameters)
        return self.filter(id__in=ids)

    def with_tier_rank(self) -> "CustomerQuerySet":
        """``tier_rank`` on every row, for sorting best tier first (TIER_RANK)."""
        return self.annotate(tier_rank=TIER_RANK)


GRADING_FIELDS = [
    "bureau_rating",
    "has_litigation",
    "overdue_count",
    "debt_ratio",
    "current_ratio",
    "project_amount",
    "cooperation_since",
    "credit_report_date",
    "statement_date",
    "funding_need_date",
    "tier",
    "computed_tier",
    "previous_tier",
    "score",
    "breakdown",
    "scorecard",
    "graded_at",
    "override_tier",
    "override_expires_at",
    "credit_limit",
    "last_review_date",
    "reviewed_on",
    "next_review_date",
    "previous_score",
    "previous_bureau_rating",
    "watch_review_by",
    "review_reminded_for",
]


class Customer(models.Model):
    """A company seeking or holding project financing."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("company name"), max_length=200)
    credit_code = models.CharField(
        _("unified social credit code"),
        max_length=18,
        unique=True,
        validators=[validate_credit_code],
        error_messages={
            "unique": _(
                "A customer with this credit code is already registered. If it should be yours, "
                "ask your team manager to transfer it."
            )
        },
    )
    industry = models.CharField(_("industry"), max_length=20, choices=Industry.choices)
    registered_capital = models.DecimalField(
        _("registered capital (CNY)"),
        max_digits=18,
        decimal_places=2,
        validators=[MinValueValidator(0, message=_("Registered capital cannot be negative."))],
    )
    industry_position = models.CharField(_("industry position"), max_length=20, choices=IndustryPosition.choices)
    credit_rating = models.CharField(
        _("external credit rating"),
        max_length=3,
        choices=CreditRating.choices,
        blank=True,
        help_text=_("Leave empty if the company has no external rating."),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("relationship manager"),
        on_delete=models.PROTECT,
        related_name="customers",
        db_index=False,  # (owner, name) and (owner, tier) lead with it
    )
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("team"),
        on_delete=models.PROTECT,
        related_name="customers",
        db_index=False,  # (team, name) and (team, tier) lead with it
    )
    status = models.CharField(
        _("status"), max_length=20, choices=CustomerStatus.choices, default=CustomerStatus.PROSPECT
    )
    # --- Grading inputs: the latest value of each data source, kept current by the intake
    # services so that the whole portfolio can be graded by one statement per batch.
    bureau_rating = models.CharField(_("credit bureau rating"), max_length=3, choices=CreditRating.choices, blank=True)
    # The rating of the credit report before the latest one (the bureau-downgrade alert rule).
    previous_bureau_rating = models.CharField(
        _("previous credit bureau rating"), max_length=3, choices=CreditRating.choices, blank=True
    )
    has_litigation = models.BooleanField(_("pending litigation"), null=True)
    overdue_count = models.PositiveIntegerField(_("overdue payments"), null=True)
    debt_ratio = models.DecimalField(_("debt ratio"), max_digits=9, decimal_places=4, null=True)
    current_ratio = models.DecimalField(_("current ratio"), max_digits=9, decimal_places=4, null=True)
    project_amount = models.DecimalField(_("project amount (CNY)"), max_digits=18, decimal_places=2, null=True)
    cooperation_since = models.DateField(_("cooperating since"), null=True)
    credit_report_date = models.DateField(_("latest credit report"), null=True)
    statement_date = models.DateField(_("latest financial statement"), null=True)
    funding_need_date = models.DateField(_("latest funding need"), null=True)

    # --- Grading outputs: written only by customers.regrade (never by a form).
    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices, default=Tier.UNRATED)
    computed_tier = models.CharField(_("computed tier"), max_length=10, choices=Tier.choices, default=Tier.UNRATED)
    previous_tier = models.CharField(_("previous tier"), max_length=10, choices=Tier.choices, blank=True)
    score = models.DecimalField(_("score"), max_digits=6, decimal_places=2, null=True, blank=True)
    # The score before the latest grade change, like previous_tier (the score-drop alert rule).
    previous_score = models.DecimalField(_("previous score"), max_digits=6, decimal_places=2, null=True, blank=True)
    breakdown = models.JSONField(_("points per criterion"), null=True, blank=True)
    # No index: a scorecard publication changes it on every row, and an indexed column changed
    # makes PostgreSQL write a new entry in every index of the table (no HOT update). Only
    # deleting a scorecard looks customers up by it.
    scorecard = models.ForeignKey(
        "customers.Scorecard", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    graded_at = models.DateTimeField(_("graded at"), null=True, blank=True)
    override_tier = models.CharField(_("override tier"), max_length=10, choices=Tier.choices, blank=True)
    override_expires_at = models.DateTimeField(_("override expires"), null=True, blank=True)
    credit_limit = models.DecimalField(_("credit limit (CNY)"), max_digits=18, decimal_places=2, null=True)
    # Where the review cycle starts: the creation day, then each review (the first review falls due
    # one interval after creation). Not proof of a review: that is reviewed_on.
    last_review_date = models.DateField(_("last reviewed"), default=timezone.localdate)
    # The day of the last completed review (customers.services.customer_reviewed); empty until one.
    reviewed_on = models.DateField(_("reviewed on"), null=True, blank=True, editable=False)
    next_review_date = models.DateField(_("next review"), null=True, blank=True)
    # Watch list (written by risk.services.watch): while an open warning or critical alert stands, the
    # review is due by this date at the latest; re-grading keeps next_review_date at or before it.
    watch_review_by = models.DateField(_("on the watch list: review by"), null=True, blank=True)
    # The next_review_date an RM was last reminded of (risk.services.reminders): a reminder goes out once.
    review_reminded_for = models.DateField(_("review reminder sent for"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    # History records what people changed; grading inputs and outputs have their own records
    # (data-source rows and Grade rows) and are written in bulk, so they are left out here.
    history = HistoricalRecords(excluded_fields=["updated_at", *GRADING_FIELDS])
    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.CheckConstraint(condition=Q(registered_capital__gte=0), name="customer_capital_not_negative"),
            models.CheckConstraint(condition=Q(tier__in=Tier.values), name="customer_tier_valid"),
        ]
        indexes = [
            models.Index(fields=["owner", "name"]),
            models.Index(fields=["team", "name"]),
            models.Index(fields=["next_review_date"]),
            # No index leads with the tier: a re-grade that moves a customer's tier rewrites an
            # entry in every index of the table (no HOT update), 13 s for 91k customers with 18
            # indexes against 2 s in place. (tier), (team, tier) and (owner, tier) served the
            # dashboard's exposure by tier, which now reads the risk rollup; a tier filter walks
            # the list's own index instead.
            # The firm-wide list (admins, risk officers) in each of its sorts, as keyset pages
            # (crm.keyset): the id breaks ties in the sort's own direction, so a descending sort
            # is this index scanned backwards. A team's or an RM's list sorts by name through
            # (team, name) and (owner, name); its other sorts walk these, or sort a few thousand
            # rows in memory. Each index here slows the portfolio re-grade's row rewrites, so
            # there is none per team or owner beyond those.
            models.Index(fields=["name", "id"], name="customer_name_id"),
            models.Index(fields=["registered_capital", "id"], name="customer_capital_id"),
            models.Index(fields=["created_at", "id"], name="customer_created_id"),
            models.Index(TIER_RANK, F("name"), F("id"), name="customer_tier_rank"),
            # The watch list of a team or an RM: a few thousand rows of a million.
            models.Index(
                fields=["team", "watch_review_by"],
                condition=Q(watch_review_by__isnull=False),
                name="customer_team_watch",
            ),
            models.Index(
                fields=["owner", "watch_review_by"],
                condition=Q(watch_review_by__isnull=False),
                name="customer_owner_watch",
            ),
            # Who is on the watch list, by id range: where the hourly refresh starts each batch.
            models.Index(fields=["id"], condition=Q(watch_review_by__isnull=False), name="customer_on_watch"),
            # The firm's watch list, soonest first (the dashboard of risk officers and admins).
            models.Index(
                fields=["watch_review_by", "id"], condition=Q(watch_review_by__isnull=False), name="customer_watch_by"
            ),
            # The data-quality page's counts (customers.quality): the few customers missing an
            # input, for a team and for the firm (partial: a few percent of the rows; it serves
            # any subset of its arms), and a team's oldest source date, which a stale source
            # must be older than. Neither is written by the re-grade, but a tier move rewrites
            # an entry in every index: the full one costs ~2.5 s of a 1M re-grade, so the firm
            # has none (its stale customers are common enough to find by reading in order).
            models.Index(fields=["team"], condition=ANY_INPUT_MISSING, name="customer_team_incomplete"),
            models.Index(fields=["id"], condition=ANY_INPUT_MISSING, name="customer_incomplete"),
            models.Index(F("team"), OLDEST_SOURCE, name="customer_team_oldest_source"),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A person at the customer the relationship manager deals with."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=100)
    title = models.CharField(_("job title"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    is_primary = models.BooleanField(_("primary contact"), default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-is_primary", "name", "id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=Q(is_primary=True), name="one_primary_contact")
        ]

    def __str__(self) -> str:
        return self.name


class Activity(models.Model):
    """Append-only log of what happened with a customer."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="activities")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("author")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ActivityKind.choices, default=ActivityKind.NOTE)
    body = models.TextField(_("note"), max_length=5000)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [models.Index(fields=["customer", "-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.body[:40]}"
