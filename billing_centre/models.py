"""The kernel's one table: the database cache that answers while Redis is down (billing_centre.cache)."""

from django.db import models


class CacheEntry(models.Model):
    """A row of Django's ``DatabaseCache`` (the ``database`` cache alias); the cache reads and writes it.

    Declared as a model only so a migration creates the table (the schema of ``createcachetable``):
    every deployment has it without an extra command, and ``migrate`` on a fresh database is enough.
    """

    cache_key = models.CharField(max_length=255, primary_key=True)
    value = models.TextField()
    expires = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "bc_cache_fallback"
        verbose_name = "cache entry"
        verbose_name_plural = "cache entries"

    def __str__(self) -> str:
        return self.cache_key
