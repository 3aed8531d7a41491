"""Billing and payment records (issue #18): invoices, payments, refunds and chargebacks.

Written once and never changed: the database refuses UPDATE, DELETE and TRUNCATE of them
(the refusal of migration 0008), so a charge or a payment a damages figure cites is still
there, as it was, when it is questioned.
"""

import django.db.models.deletion
from django.db import migrations, models

GUARD = """
CREATE TRIGGER billing_record_refuse_update_delete BEFORE UPDATE OR DELETE
    ON evidence_billingrecord
    FOR EACH ROW EXECUTE FUNCTION pacta_evidence_refuse_change('billing records');
CREATE TRIGGER billing_record_refuse_truncate BEFORE TRUNCATE ON evidence_billingrecord
    FOR EACH STATEMENT EXECUTE FUNCTION pacta_evidence_refuse_change('billing records');
"""
UNGUARD = """
DROP TRIGGER IF EXISTS billing_record_refuse_update_delete ON evidence_billingrecord;
DROP TRIGGER IF EXISTS billing_record_refuse_truncate ON evidence_billingrecord;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('evidence', '0191_address_indexes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='ingestbatch',
            name='kind',
            field=models.CharField(choices=[('accounts', 'Accounts'), ('usage', 'Usage events'), ('assent', 'Assent records'), ('terms', 'Terms'), ('probes', 'Probe transcripts'), ('serves', 'Canary serve log'), ('billing', 'Billing and payment records')], max_length=16),
        ),
        migrations.CreateModel(
            name='BillingRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('invoice', 'Invoice'), ('payment', 'Payment'), ('refund', 'Refund'), ('chargeback', 'Chargeback')], max_length=12)),
                ('billing_id', models.CharField(help_text="The billing system's id of the invoice or payment.", max_length=200)),
                ('invoice_id', models.CharField(blank=True, help_text='The invoice a payment, refund or chargeback settles.', max_length=200)),
                ('amount_minor', models.BigIntegerField(help_text='In minor units (cents) of `currency`.')),
                ('currency', models.CharField(help_text='ISO 4217 code.', max_length=3)),
                ('occurred_at', models.DateTimeField()),
                ('period_start', models.DateTimeField(blank=True, null=True)),
                ('period_end', models.DateTimeField(blank=True, null=True)),
                ('content_sha256', models.CharField(max_length=64)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='billing', to='evidence.account')),
                ('batch', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='billing', to='evidence.ingestbatch')),
            ],
            options={
                'ordering': ['occurred_at', 'pk'],
                'indexes': [models.Index(fields=['account', 'occurred_at'], name='billing_account_time')],
                'constraints': [models.UniqueConstraint(fields=('kind', 'billing_id'), name='billing_record_unique'), models.CheckConstraint(condition=models.Q(('amount_minor__gte', 0)), name='billing_amount_non_negative')],
            },
        ),
        migrations.RunSQL(GUARD, UNGUARD),
    ]
