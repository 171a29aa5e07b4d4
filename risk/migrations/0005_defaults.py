"""The alert rules and the beat schedules a new installation starts with (all editable in admin)."""

from django.db import migrations

RULES = [
    # name, kind, params, severity, escalate after hours
    ("Downgrade from AA or A", "tier_downgrade", {"from_tiers": ["AA", "A"]}, "critical", 24),
    ("Score dropped by 10 points or more", "score_drop", {"points": 10}, "warning", None),
    ("Credit bureau rating downgraded", "bureau_downgrade", {"notches": 1}, "warning", None),
    ("Payment more than 30 days overdue", "payment_overdue", {"days": 30}, "critical", 24),
    ("Debt ratio above 70%", "debt_ratio_high", {"above": "0.70"}, "warning", None),
    ("Credit limit breached", "limit_breach", {}, "critical", 24),
    ("Review overdue", "review_overdue", {"days": 0}, "info", None),
    ("Deal stale in its stage", "deal_stale", {"days": 0}, "info", None),
    ("Scorecard inputs stale", "inputs_stale", {}, "info", None),
]

TASKS = [
    # name, task, schedule (crontab minute/hour or interval minutes)
    ("Evaluate alert rules", "risk.tasks.alerts_evaluate", {"minute": "10", "hour": "*"}),
    ("Escalate unacknowledged critical alerts", "risk.tasks.alerts_escalate", {"every": 15}),
    ("Remind relationship managers of reviews due", "risk.tasks.reviews_flag_due", {"minute": "0", "hour": "7"}),
    ("Send managers the daily alert digest", "risk.tasks.digest_send", {"minute": "30", "hour": "7"}),
    ("Rebuild the risk dashboard figures", "risk.tasks.risk_rollup_rebuild", {"every": 30}),
]


def create(apps, schema_editor):
    AlertRule = apps.get_model("risk", "AlertRule")
    for name, kind, params, severity, hours in RULES:
        AlertRule.objects.get_or_create(
            name=name,
            defaults={"kind": kind, "params": params, "severity": severity, "escalate_after_hours": hours},
        )
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, when in TASKS:
        if "every" in when:
            interval, _ = IntervalSchedule.objects.get_or_create(every=when["every"], period="minutes")
            schedule = {"interval": interval}
        else:
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=when["minute"],
                hour=when["hour"],
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone="Asia/Shanghai",
            )
            schedule = {"crontab": crontab}
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, **schedule})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[t[0] for t in TASKS]).delete()
    apps.get_model("risk", "AlertRule").objects.filter(name__in=[r[0] for r in RULES], alerts__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0004_escalation_digest_rollup"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
