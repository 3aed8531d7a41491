"""Prompt-family sketches among the indicators a partner can match (issue #22)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('casework', '0110_case_output_evidence'),
    ]

    operations = [
        migrations.AlterField(
            model_name='indicatormatch',
            name='kind',
            field=models.CharField(choices=[('email', 'Email address (keyed hash)'), ('payment', 'Payment fingerprint (keyed hash)'), ('request_shape', 'Request shape (keyed hash)'), ('address_range', 'Address range'), ('prompt_family', 'Prompt family (keyed band keys)')], max_length=16),
        ),
    ]
