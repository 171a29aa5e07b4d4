"""Chinese names for the alert rules a new installation starts with (risk/0005_defaults).

Only a rule that still has its shipped English name and no Chinese name is filled: a rule an
admin renamed or already translated keeps the admin's text."""

from django.db import migrations

NAMES_ZH_HANS = {
    "Downgrade from AA or A": "从AA或A级下调",
    "Score dropped by 10 points or more": "评分下降10分及以上",
    "Credit bureau rating downgraded": "征信评级下调",
    "Payment more than 30 days overdue": "逾期超过30天",
    "Debt ratio above 70%": "资产负债率高于70%",
    "Credit limit breached": "超出授信额度",
    "Review overdue": "复核逾期",
    "Deal stale in its stage": "项目在当前阶段停留过久",
    "Scorecard inputs stale": "评分数据过期",
}


def fill(apps, schema_editor):
    AlertRule = apps.get_model("risk", "AlertRule")
    for name, name_zh_hans in NAMES_ZH_HANS.items():
        # One UPDATE per name whose WHERE is the "still as shipped" test: an admin's edit wins.
        AlertRule.objects.filter(name=name, name_zh_hans="").update(name_zh_hans=name_zh_hans)


class Migration(migrations.Migration):
    dependencies = [("risk", "0008_alertrule_name_zh_hans")]

    # Reversing leaves the Chinese names: 0008's reverse drops the column anyway.
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
