from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0003_casework"),
    ]

    operations = [
        migrations.AddField(
            model_name="attachment",
            name="sanitised_file",
            field=models.FileField(blank=True, max_length=320, upload_to=""),
        ),
        migrations.AddField(
            model_name="attachment",
            name="sanitisation_note",
            field=models.CharField(blank=True, max_length=200),
        ),
    ]
