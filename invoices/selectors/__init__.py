"""Reads for invoices, already scoped to what the user may see, one module per use case:

- ``scope``: the visible invoices and shipments, one invoice for this user with the user's role
  (``invoice_for_user``), what the formats and exports read, shipping history;
- ``tables``: My Account Invoices and My Plan Invoices (filters, totals, keyset pages);
- ``dashboard``: the dashboard's figures.

Code inside invoices imports from those modules; this package keeps the names other apps,
scripts and tests import from ``invoices.selectors``.
"""

from .dashboard import DashboardSummary, dashboard_summary
from .scope import (
    InvoiceAccess,
    billable_choices,
    billable_choices_visible,
    billables_visible,
    invoice_for_user,
    invoice_get_visible,
    invoice_list_for_export,
    invoice_list_visible,
    shipment_history,
    shipment_list_visible,
)
from .tables import InvoiceTablePage, invoice_table, invoice_table_page_get

__all__ = [
    "DashboardSummary",
    "InvoiceAccess",
    "InvoiceTablePage",
    "billable_choices",
    "billable_choices_visible",
    "billables_visible",
    "dashboard_summary",
    "invoice_for_user",
    "invoice_get_visible",
    "invoice_list_for_export",
    "invoice_list_visible",
    "invoice_table",
    "invoice_table_page_get",
    "shipment_history",
    "shipment_list_visible",
]
