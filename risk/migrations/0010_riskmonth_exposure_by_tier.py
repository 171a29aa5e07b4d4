"""The rollup's exposure snapshot by customer tier (issue #14): the dashboard's "Exposure by
tier" reads it instead of joining customers and facilities. Nullable, NULL until the next
rebuild takes a snapshot (the page says so meanwhile); no data to migrate."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('risk', '0009_alertrule_chinese_names'),
    ]

    operations = [
        migrations.AddField(
            model_name='riskmonth',
            name='exposure_a',
            field=models.DecimalField(decimal_places=2, max_digits=22, null=True),
        ),
        migrations.AddField(
            model_name='riskmonth',
            name='exposure_aa',
            field=models.DecimalField(decimal_places=2, max_digits=22, null=True),
        ),
        migrations.AddField(
            model_name='riskmonth',
            name='exposure_unrated',
            field=models.DecimalField(decimal_places=2, max_digits=22, null=True),
        ),
        migrations.AddField(
            model_name='riskmonth',
            name='facilities_a',
            field=models.PositiveIntegerField(null=True),
        ),
        migrations.AddField(
            model_name='riskmonth',
            name='facilities_aa',
            field=models.PositiveIntegerField(null=True),
        ),
        migrations.AddField(
            model_name='riskmonth',
            name='facilities_b',
            field=models.PositiveIntegerField(null=True),
        ),
        migrations.AddField(
            model_name='riskmonth',
            name='facilities_unrated',
            field=models.PositiveIntegerField(null=True),
        ),
    ]
