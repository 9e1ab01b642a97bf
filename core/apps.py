from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"

    def ready(self):
        # After every `migrate`, the planner settings are stored on the database, where connections
        # through PgBouncer pick them up (core.database.database_settings_store).
        post_migrate.connect(_database_settings_store, sender=self, dispatch_uid="core.database_settings_store")


def _database_settings_store(sender, using, **kwargs):
    from core.database import database_settings_store

    if using == "default":
        database_settings_store(using=using)
