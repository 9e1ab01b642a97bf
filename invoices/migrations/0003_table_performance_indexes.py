"""Indexes for the invoice tables at scale (issue 8), on PostgreSQL only.

- One covering B-tree per sortable column, keyed (column, number, id) like the tables'
  ORDER BY, with the scope and filter columns included: the page's ids come from an
  index-only scan in sort order, at any depth, without reading the table.
- Covering indexes on account and plan for the filtered set's count and sums.
- Trigram indexes (pg_trgm) for "contains" search on invoice, account and tracking numbers.

These are raw SQL (INCLUDE and GIN trigram operator classes are PostgreSQL features) and
leave the model state alone; on SQLite the migration does nothing. Reversible.
"""

from django.db import migrations

INCLUDED = "account_id, plan_id, status, due_date, invoice_date, total, balance, currency"

INDEXES = {
    "invoice_sort_invoice_date": f"(invoice_date, number, id) INCLUDE ({INCLUDED})",
    "invoice_sort_due_date": f"(due_date, number, id) INCLUDE ({INCLUDED})",
    "invoice_sort_total": f"(total, number, id) INCLUDE ({INCLUDED})",
    "invoice_sort_balance": f"(balance, number, id) INCLUDE ({INCLUDED})",
    "invoice_sort_number": f"(number, id) INCLUDE ({INCLUDED})",
    "invoice_scope_account": f"(account_id) INCLUDE (number, id, status, due_date, invoice_date, total, balance, currency)",
    "invoice_scope_plan": f"(plan_id) INCLUDE (number, id, status, due_date, invoice_date, total, balance, currency)",
}
TRIGRAM = {
    "invoice_number_trgm": "invoices_invoice USING gin (upper(number::text) gin_trgm_ops)",
    "shipment_tracking_trgm": "invoices_shipment USING gin (upper(tracking_number::text) gin_trgm_ops)",
    "account_number_trgm": "accounts_shippingaccount USING gin (upper(number::text) gin_trgm_ops)",
    "plan_number_trgm": "accounts_billingplan USING gin (upper(number::text) gin_trgm_ops)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON invoices_invoice {definition}")
    for name, definition in TRIGRAM.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in [*INDEXES, *TRIGRAM]:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0002_documents_and_export_jobs"),
        ("accounts", "0003_jobrun_and_new_invoice_notices"),
    ]

    operations = [migrations.RunPython(create, drop)]
