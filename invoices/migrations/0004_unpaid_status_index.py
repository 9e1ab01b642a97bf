"""A partial covering index of unpaid invoices, keyed (status, number, id), on PostgreSQL only.

Serves what the sort indexes of 0003 cannot (issue 8): the status filters and the segments
of the table sorted by status (credit, open, past due; paid rows come from the number index),
and the counts and sums of those sets. Most invoices are paid, so the index stays small.
Raw SQL like 0003 (INCLUDE and a partial predicate); a no-op on SQLite. Reversible.
"""

from django.db import migrations

NAME = "invoice_unpaid_status"
DEFINITION = (
    "(status, number, id) INCLUDE (account_id, plan_id, due_date, invoice_date, total, balance, currency) "
    "WHERE status <> 'paid'"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} ON invoices_invoice {DEFINITION}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")


class Migration(migrations.Migration):
    # CONCURRENTLY: the invoice table stays writable while the index is built (not in a transaction).
    atomic = False

    dependencies = [("invoices", "0003_table_performance_indexes")]

    operations = [migrations.RunPython(create, drop)]
