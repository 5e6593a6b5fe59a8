from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="Attachment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("label", models.CharField(max_length=200)),
                ("name", models.CharField(max_length=200)),
                ("size", models.IntegerField()),
                ("sha256", models.CharField(max_length=64)),
            ],
        ),
    ]
