"""Ship a sensible default: scorecard v1 (active), the four tier policies, and a nightly
portfolio re-grade in django-celery-beat (schedules are edited in Django admin)."""

from decimal import Decimal as D

from django.db import migrations

M = D(1_000_000)  # amounts below are in millions of yuan

# group, attribute, weight, bands: numeric [(lower, upper, points)] or categorical {value: points}
CRITERIA = [
    ("qualification", "registered_capital", 15, [(None, 50 * M, 20), (50 * M, 200 * M, 50), (200 * M, 1000 * M, 80), (1000 * M, None, 100)]),
    ("qualification", "industry_position", 10, {"leader": 100, "major": 75, "average": 45, "marginal": 15}),
    ("credit", "bureau_rating", 15, {"AAA": 100, "AA": 90, "A": 75, "BBB": 55, "BB": 35, "B": 20, "CCC": 5, "CC": 5, "C": 5, "D": 0}),
    ("credit", "has_litigation", 5, {"no": 100, "yes": 0}),
    ("credit", "overdue_count", 10, [(None, D(1), 100), (D(1), D(3), 50), (D(3), None, 0)]),
    ("credit", "debt_ratio", 10, [(None, D("0.5"), 100), (D("0.5"), D("0.65"), 75), (D("0.65"), D("0.8"), 40), (D("0.8"), None, 10)]),
    ("credit", "current_ratio", 5, [(None, D(1), 20), (D(1), D("1.5"), 60), (D("1.5"), None, 100)]),
    ("funding_need", "project_amount", 15, [(None, 20 * M, 40), (20 * M, 100 * M, 70), (100 * M, 1000 * M, 100), (1000 * M, None, 80)]),
    ("cooperation", "cooperation_years", 15, [(None, D(1), 30), (D(1), D(3), 60), (D(3), D(5), 80), (D(5), None, 100)]),
]

# tier: spread bp, collateral %, capital multiple, cap (CNY), review days, monitoring days
POLICIES = {
    "AA": (80, D("50.0"), D("0.60"), 2000 * M, 365, 90),
    "A": (150, D("80.0"), D("0.40"), 800 * M, 180, 60),
    "B": (260, D("120.0"), D("0.20"), 200 * M, 90, 30),
    "unrated": (400, D("150.0"), D("0"), D(0), 30, 30),
}


def create(apps, schema_editor):
    Scorecard = apps.get_model("customers", "Scorecard")
    Criterion = apps.get_model("customers", "Criterion")
    Band = apps.get_model("customers", "Band")
    TierPolicy = apps.get_model("customers", "TierPolicy")
    card = Scorecard.objects.create(
        version=1,
        name="Project finance standard",
        status="active",
        cutoff_aa=D("80"),
        cutoff_a=D("60"),
        notes="Default scorecard shipped with the product.",
    )
    for order, (group, attribute, weight, bands) in enumerate(CRITERIA):
        criterion = Criterion.objects.create(
            scorecard=card, group=group, attribute=attribute, weight=weight, order=order
        )
        if isinstance(bands, dict):
            Band.objects.bulk_create(Band(criterion=criterion, category=k, points=v) for k, v in bands.items())
        else:
            Band.objects.bulk_create(Band(criterion=criterion, lower=lo, upper=hi, points=p) for lo, hi, p in bands)
    for tier, (spread, collateral, multiple, cap, review, monitoring) in POLICIES.items():
        TierPolicy.objects.create(
            tier=tier,
            spread_bps=spread,
            collateral_coverage=collateral,
            capital_multiple=multiple,
            limit_cap=cap,
            review_interval_days=review,
            monitoring_interval_days=monitoring,
            max_data_age_days=365,
        )

    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.get_or_create(
        name="Re-grade the portfolio",
        defaults={"task": "customers.tasks.portfolio_regrade", "crontab": nightly, "kwargs": '{"reason": "scheduled"}'},
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name="Re-grade the portfolio").delete()
    apps.get_model("customers", "TierPolicy").objects.all().delete()
    apps.get_model("customers", "Scorecard").objects.filter(version=1).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_grading"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
