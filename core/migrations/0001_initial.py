"""The database cache table (core.cache), moved here from the project package by the redesign.

A database migrated before the move already has the table (it was ``billing_centre`` 0001), so
the table is created only where it is missing; the model state is created either way.
"""

from django.db import migrations, models


def _create_table_if_missing(apps, schema_editor):
    model = apps.get_model("core", "CacheEntry")
    if model._meta.db_table not in schema_editor.connection.introspection.table_names():
        schema_editor.create_model(model)


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CacheEntry",
                    fields=[
                        ("cache_key", models.CharField(max_length=255, primary_key=True, serialize=False)),
                        ("value", models.TextField()),
                        ("expires", models.DateTimeField(db_index=True)),
                    ],
                    options={
                        "verbose_name": "cache entry",
                        "verbose_name_plural": "cache entries",
                        "db_table": "bc_cache_fallback",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(_create_table_if_missing, migrations.RunPython.noop),
    ]
