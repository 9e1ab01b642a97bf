"""The scope indexes keyed (account_id, number, id) and (plan_id, number, id), PostgreSQL only.

0003 keyed them by account or plan alone. With the invoice number and id in the key, the
table sorted by account or plan reads each account (a keyset segment) in order straight from
the index, so any page, even page 1,000 typed into the URL, is one or two short range scans
(issue 8). The included columns still cover the totals and the dashboard. Raw SQL like 0003;
a no-op on SQLite. Reversible.
"""

from django.db import migrations

COVERED = "status, due_date, invoice_date, total, balance, currency"
NEW = {
    "invoice_scope_account_number": f"(account_id, number, id) INCLUDE ({COVERED})",
    "invoice_scope_plan_number": f"(plan_id, number, id) INCLUDE ({COVERED})",
}
OLD = {
    "invoice_scope_account": f"(account_id) INCLUDE (number, id, {COVERED})",
    "invoice_scope_plan": f"(plan_id) INCLUDE (number, id, {COVERED})",
}


def _swap(schema_editor, create: dict, drop: dict) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in create.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON invoices_invoice {definition}")
    for name in drop:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def forwards(apps, schema_editor):
    _swap(schema_editor, NEW, OLD)


def backwards(apps, schema_editor):
    _swap(schema_editor, OLD, NEW)


class Migration(migrations.Migration):
    # CONCURRENTLY: the invoice table stays writable while the index is built (not in a transaction).
    atomic = False

    dependencies = [("invoices", "0004_unpaid_status_index")]

    operations = [migrations.RunPython(forwards, backwards)]
