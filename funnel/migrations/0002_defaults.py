"""Ship the six stages with sensible settings, a due-diligence checklist, and the funnel's
periodic jobs in django-celery-beat (all edited in Django admin afterwards)."""

from django.db import migrations

# stage: probability %, expected days in stage
STAGES = {
    "prospect": (10, 30),
    "preliminary": (25, 21),
    "due_diligence": (50, 45),
    "approved": (85, 30),
    "funded": (100, None),
    "lost": (0, None),
}

CHECKLIST = [
    ("Site visit completed and documented", "已完成实地考察并形成记录"),
    ("Project feasibility study reviewed", "已审阅项目可行性研究报告"),
    ("Ownership structure and actual controller verified", "已核实股权结构及实际控制人"),
    ("Collateral appraised by an independent valuer", "抵押物已由独立评估机构评估"),
    ("Guarantees and guarantor credit checked", "已核查担保及担保人信用"),
    ("Legal opinion on permits and litigation obtained", "已取得关于许可证及诉讼情况的法律意见"),
    ("Cash-flow model and repayment sources stress-tested", "已对现金流模型及还款来源进行压力测试"),
]


def create(apps, schema_editor):
    StageSetting = apps.get_model("funnel", "StageSetting")
    for stage, (probability, days) in STAGES.items():
        StageSetting.objects.get_or_create(stage=stage, defaults={"probability": probability, "expected_days": days})
    ChecklistItem = apps.get_model("funnel", "ChecklistItem")
    for order, (name, name_zh) in enumerate(CHECKLIST, start=1):
        ChecklistItem.objects.get_or_create(name=name, defaults={"name_zh_hans": name_zh, "order": order * 10})

    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    daily, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="6", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.get_or_create(
        name="Flag deals overdue in their stage", defaults={"task": "funnel.tasks.deals_flag_stale", "crontab": daily}
    )
    quarter_hour, _ = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="Refresh funnel analytics",
        defaults={"task": "funnel.tasks.funnel_rollup_rebuild", "interval": quarter_hour},
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        task__in=["funnel.tasks.deals_flag_stale", "funnel.tasks.funnel_rollup_rebuild"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("funnel", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
