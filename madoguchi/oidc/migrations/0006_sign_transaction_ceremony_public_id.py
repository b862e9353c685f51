"""A signing transaction names its ceremony by public id (ceremonies.callers) instead of a
foreign key into the ceremonies tables."""

from django.db import migrations, models


def copy_public_ids(apps, schema_editor):
    SignTransaction = apps.get_model("oidc", "SignTransaction")
    rows = SignTransaction.unscoped.exclude(ceremony=None).select_related("ceremony")
    for tx in rows.iterator(chunk_size=500):
        tx.ceremony_public_id = tx.ceremony.public_id
        tx.save(update_fields=["ceremony_public_id"])


def copy_back(apps, schema_editor):
    SignTransaction = apps.get_model("oidc", "SignTransaction")
    Ceremony = apps.get_model("ceremonies", "Ceremony")
    for tx in SignTransaction.unscoped.exclude(ceremony_public_id="").iterator(chunk_size=500):
        tx.ceremony = Ceremony.unscoped.filter(municipality_id=tx.municipality_id,
                                               public_id=tx.ceremony_public_id).first()
        tx.save(update_fields=["ceremony"])


class Migration(migrations.Migration):

    dependencies = [
        ("oidc", "0005_signing_key_withdrawn"),
        ("ceremonies", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="signtransaction",
            name="ceremony_public_id",
            field=models.CharField(blank=True, default="", max_length=43),
        ),
        migrations.RunPython(copy_public_ids, copy_back),
        migrations.RemoveField(
            model_name="signtransaction",
            name="ceremony",
        ),
    ]
