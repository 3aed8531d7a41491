"""The global roles as groups: admin, counsel, investigator, viewer, external reviewer.

Per-case membership decides what a user may do on a case; these groups decide who may
read the shared record at all (see evidence.access) and who may open cases.
"""

from django.db import migrations

ROLES = ("admin", "counsel", "investigator", "viewer", "external reviewer")


def create_roles(apps, schema_editor) -> None:
    group = apps.get_model("auth", "Group")
    for name in ROLES:
        group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("casework", "0003_casenote"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
