"""Production zips past their retention are removed; the job keeps their manifest (issue #19)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('casework', '0111_indicator_match_prompt_family'),
    ]

    operations = [
        migrations.AddField(
            model_name='productionjob',
            name='manifest',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='productionjob',
            name='zip_removed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
