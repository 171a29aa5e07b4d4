"""Django admin for scorecards, tier policies and grades (imported by customers/admin.py).

Drafts are edited freely; active and retired versions are read-only so every grade stays
explainable. Publishing goes through a preview page that shows the tier migration matrix on
the live portfolio before anything is saved."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.jobs import job_request
from crm.models import JobStatus
from customers import tasks
from customers.exceptions import NotAllowed, ScorecardInvalid
from customers.grading import validate
from customers.models import Band, Criterion, Grade, GradeReason, Scorecard, TierOverride, TierPolicy
from customers.services import TIER_ORDER, scorecard_copy, scorecard_impact, scorecard_publish


class FrozenUnlessDraft:
    """Inline/admin mixin: nothing of an active or retired scorecard can be changed."""

    def _draft(self, obj) -> bool:
        card = obj if isinstance(obj, Scorecard) else getattr(obj, "scorecard", None)
        return card is None or card.is_editable

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._draft(obj)

    def has_add_permission(self, request, *obj):  # inlines get the parent object, admins nothing
        return super().has_add_permission(request, *obj) and self._draft(obj[0] if obj else None)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._draft(obj)


class LabelledRowsFormSet(BaseInlineFormSet):
    """A tabular inline shows its field labels once, as column headers: a screen reader reading
    an input hears nothing. Every visible input gets an aria-label "<row>: <field>"."""

    def row_name(self, form, index: int | None) -> str:
        raise NotImplementedError

    def add_fields(self, form, index):
        super().add_fields(form, index)  # after it, so DELETE and the foreign key are labelled too
        row = self.row_name(form, index)
        for name, field in form.fields.items():
            if not field.widget.is_hidden:
                label = field.label or name  # the formset's DELETE field has its own label
                field.widget.attrs["aria-label"] = gettext("%(row)s: %(field)s") % {"row": row, "field": label}


class CriterionFormSet(LabelledRowsFormSet):
    def row_name(self, form, index):
        if form.instance.pk:
            return form.instance.get_attribute_display()
        # The empty form is cloned by the admin's JavaScript, which renumbers ids and names only.
        if index is None:
            return gettext("New criterion")
        return gettext("New criterion %(n)d") % {"n": index + 1}


class BandFormSet(LabelledRowsFormSet):
    def row_name(self, form, index):
        criterion = self.instance.get_attribute_display()
        if index is None:
            return gettext("%(criterion)s, new band") % {"criterion": criterion}
        return gettext("%(criterion)s, band %(n)d") % {"criterion": criterion, "n": index + 1}


class CriterionInline(FrozenUnlessDraft, admin.TabularInline):
    model = Criterion
    formset = CriterionFormSet
    extra = 0
    fields = ["order", "group", "attribute", "weight", "bands_summary"]
    readonly_fields = ["bands_summary"]
    show_change_link = True

    @admin.display(description=_("bands"))
    def bands_summary(self, obj):
        return ", ".join(str(b) for b in obj.bands.all()) if obj.pk else "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("bands")


@admin.register(Scorecard)
class ScorecardAdmin(FrozenUnlessDraft, admin.ModelAdmin):
    list_display = ["version", "name", "status", "cutoff_aa", "cutoff_a", "published_at", "published_by"]
    list_filter = ["status"]
    readonly_fields = ["status", "published_at", "published_by", "regrade_progress", "publish_link"]
    fields = [
        "version",
        "name",
        "cutoff_aa",
        "cutoff_a",
        "notes",
        "status",
        "published_at",
        "published_by",
        "regrade_progress",
        "publish_link",
    ]
    inlines = [CriterionInline]
    actions = ["copy_as_draft"]

    def response_add(self, request, obj, post_url_continue=None):
        response = super().response_add(request, obj, post_url_continue)
        self._warn_unpublishable(request, obj)
        return response

    def response_change(self, request, obj):
        response = super().response_change(request, obj)
        self._warn_unpublishable(request, obj)
        return response

    def _warn_unpublishable(self, request, card: Scorecard) -> None:
        """A draft is saved whatever it holds (it is edited in several sittings), but the editor
        learns now, not at publish, what would refuse it: the check publish runs. After the
        admin's "changed successfully" (its criteria are saved by then)."""
        if card.is_editable:
            for error in validate(card.spec()):
                messages.warning(request, _("Saved as a draft; it cannot be published yet: %(why)s") % {"why": error})

    @admin.display(description=_("re-grade"))
    def regrade_progress(self, obj):
        """How far the re-grade its publication asked for has got, polled until it ends."""
        return regrade_status(obj) if obj.regrade_job_id else "—"

    @admin.display(description=_("publish"))
    def publish_link(self, obj):
        if obj.pk and obj.is_editable:
            url = reverse("admin:customers_scorecard_publish", args=[obj.pk])
            return format_html('<a class="button" href="{}">{}</a>', url, _("Preview and publish…"))
        return "—"

    @admin.action(description=_("Copy as a new draft"))
    def copy_as_draft(self, request, queryset):
        for card in queryset:
            draft = scorecard_copy(scorecard=card, by=request.user)
            self.message_user(request, _("Draft v%(v)d created.") % {"v": draft.version}, messages.SUCCESS)

    def get_urls(self):
        publish = self.admin_site.admin_view(self.publish_view)
        regrade = self.admin_site.admin_view(self.regrade_view)
        return [
            path("<int:pk>/publish/", publish, name="customers_scorecard_publish"),
            path("<int:pk>/regrade/", regrade, name="customers_scorecard_regrade"),
            *super().get_urls(),
        ]

    def regrade_view(self, request, pk):
        """The re-grade's status alone, for htmx to poll (and a plain page without JavaScript)."""
        card = get_object_or_404(Scorecard, pk=pk, regrade_job__isnull=False)
        if not self.has_view_permission(request, card):
            raise PermissionDenied
        return HttpResponse(regrade_status(card))

    @staticmethod
    def _allowed(request) -> bool:
        return request.user.has_perm("customers.change_scorecard")

    def publish_view(self, request, pk):
        return publish_view(self, request, pk)


def regrade_status(card: Scorecard) -> SafeString:
    """The re-grade its publication asked for: batches done of total and customers re-graded
    while it runs; when it ended and how many customers changed tier, or why it failed."""
    job = card.regrade_job
    finished = job.status in (JobStatus.DONE, JobStatus.FAILED)
    graded = sum(
        (result or {}).get("customers", 0)
        for result in job.batches.filter(status=JobStatus.DONE).values_list("result", flat=True)
    )
    changed = 0
    if job.status == JobStatus.DONE:
        changed = (
            Grade.objects.filter(scorecard=card, reason=GradeReason.SCORECARD_PUBLISHED)
            .exclude(tier=F("previous_tier"))
            .values("customer")
            .distinct()
            .count()
        )
    context = {
        "job": job,
        "state": job.status if finished else "running",
        "finished": finished,
        "graded": graded,
        "changed": changed,
        "url": reverse("admin:customers_scorecard_regrade", args=[card.pk]),
        "page_url": reverse("admin:customers_scorecard_change", args=[card.pk]),
    }
    return render_to_string("admin/customers/scorecard/_regrade.html", context)  # escaped by the template


def publish_view(model_admin: ScorecardAdmin, request, pk):
    if not model_admin._allowed(request):
        raise PermissionDenied
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    card = get_object_or_404(Scorecard, pk=pk)
    change_url = reverse("admin:customers_scorecard_change", args=[card.pk])
    if not card.is_editable:
        messages.error(request, _("Only a draft can be published."))
        return redirect(change_url)
    if request.method == "POST":
        try:
            scorecard_publish(scorecard=card, by=request.user)
        except ScorecardInvalid as exc:
            for error in exc.errors:
                messages.error(request, error)
            return redirect(request.path)
        except NotAllowed:
            messages.error(request, _("Only a draft can be published."))
            return redirect(change_url)
        card.refresh_from_db(fields=["regrade_job"])
        messages.success(
            request,
            _("Scorecard v%(v)d is now active. The portfolio is being re-graded in the background.")
            % {"v": card.version},
        )
        if card.regrade_job and card.regrade_job.last_error:
            messages.warning(
                request,
                _("The job queue cannot be reached now. The re-grade is kept and starts by itself when it is back."),
            )
        return redirect(change_url)
    errors = validate(card.spec())
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Scorecard._meta,
        "title": _("Publish scorecard v%(v)d") % {"v": card.version},
        "scorecard": card,
        "errors": errors,
        "impact": None if errors else scorecard_impact(scorecard=card),
        "tiers": TIER_ORDER,
        "change_url": change_url,
    }
    return TemplateResponse(request, "admin/customers/scorecard/publish.html", context)


class BandInline(FrozenUnlessDraft, admin.TabularInline):
    model = Band
    formset = BandFormSet
    extra = 1
    fields = ["lower", "upper", "category", "points"]


@admin.register(Criterion)
class CriterionAdmin(FrozenUnlessDraft, admin.ModelAdmin):
    list_display = ["scorecard", "group", "attribute", "weight", "order"]
    list_filter = ["scorecard", "group"]
    list_select_related = ["scorecard"]
    inlines = [BandInline]


@admin.register(TierPolicy)
class TierPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "tier",
        "spread_bps",
        "collateral_coverage",
        "capital_multiple",
        "limit_cap",
        "review_interval_days",
        "monitoring_interval_days",
        "max_data_age_days",
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Limits and review dates follow the policy: apply the change to the portfolio.
        # One re-grade for several edits in a row: the request joins one still waiting.
        job_request(tasks.portfolio_regrade, by=request.user, key="portfolio_regrade", reason=GradeReason.SCHEDULED)
        self.message_user(request, _("Credit limits and review dates are being updated in the background."))


@admin.register(Grade)
class GradeAdmin(admin.ModelAdmin):
    list_display = ["customer", "tier", "computed_tier", "previous_tier", "score", "reason", "scorecard", "graded_at"]
    list_filter = ["reason", "tier"]
    list_select_related = ["customer", "scorecard"]
    search_fields = ["customer__name", "customer__credit_code"]
    show_full_result_count = False
    # The history is append-only: by id is by date, newest first, read backwards along the
    # primary key. Sorting by another column would sort the whole history (millions of rows).
    ordering = ["-id"]
    sortable_by = ["graded_at"]

    @admin.display(description=_("graded at"), ordering="id")
    def graded_at(self, obj):
        return obj.created_at

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # append-only history


@admin.register(TierOverride)
class TierOverrideAdmin(admin.ModelAdmin):
    list_display = ["customer", "tier", "expires_at", "created_by", "created_at"]
    list_select_related = ["customer", "created_by"]
    search_fields = ["customer__name"]

    def has_add_permission(self, request):
        return False  # overrides are made on the customer page, where they take effect

    def has_change_permission(self, request, obj=None):
        return False
