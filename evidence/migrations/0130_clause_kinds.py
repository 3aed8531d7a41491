"""Clauses say whether they are operative text and keep the classifier's suggestion.

Existing clauses are read again from their version's text (the words and paths do not
change, so neither do any hashes): titles, headings, preambles and definitions are marked
non-operative. The category counsel may already have set stays; it is also recorded as
the suggestion, since the original suggestion was not kept apart before.
"""

from django.db import migrations, models

CATEGORIES = [
    ("competing_models", "Competing models"),
    ("output_extraction", "Output extraction"),
    ("limit_circumvention", "Circumvention of limits"),
    ("key_transfer", "Key transfer / resale"),
    ("account_sharing", "Account sharing"),
    ("region", "Region"),
    ("other", "Other"),
    ("uncategorised", "Uncategorised"),
]


def kinds_backfill(apps, schema_editor):
    from evidence.terms.clauses import TermsFormatError, clauses_split

    TermsVersion = apps.get_model("evidence", "TermsVersion")
    Clause = apps.get_model("evidence", "Clause")
    for version in TermsVersion.objects.all().iterator():
        try:
            parsed = {clause.path: clause.kind for clause in clauses_split(version.text)}
        except TermsFormatError:
            parsed = {}
        for clause in Clause.objects.filter(version=version):
            kind = parsed.get(clause.path, "operative")
            Clause.objects.filter(pk=clause.pk).update(
                kind=kind, category_suggested=clause.category
            )


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0120_probes_and_canaries"),
    ]

    operations = [
        migrations.AddField(
            model_name="clause",
            name="category_suggested",
            field=models.CharField(choices=CATEGORIES, default="uncategorised", max_length=32),
        ),
        migrations.AddField(
            model_name="clause",
            name="kind",
            field=models.CharField(
                choices=[
                    ("operative", "Operative"),
                    ("title", "Document title"),
                    ("heading", "Heading"),
                    ("preamble", "Preamble"),
                    ("definition", "Definition"),
                ],
                default="operative",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="clause",
            name="category",
            field=models.CharField(choices=CATEGORIES, default="other", max_length=32),
        ),
        migrations.RunPython(kinds_backfill, migrations.RunPython.noop),
    ]
