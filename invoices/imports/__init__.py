"""Invoice import (``manage.py import_invoices FILE``): the portal's own XML or CSV format.

- XML: one ``<Invoice>`` document of ``invoices/schema/invoice-v1.xsd`` (docs/xml-format.md).
- CSV: the portal's own CSV export (``invoices/formats/csv.py``): a header row in English or
  Korean, then one row per invoice line with its invoice's header fields; several invoices.

The whole file is read and checked before anything is written; a file with any error is refused
whole, with every error and its line number. Importing is idempotent: an invoice whose number
already exists with the same values is left as it is ("unchanged"); one with other values is an
error. New invoices get their print fee (``invoices.fees.print_fee_assess``) in the same
transaction, and users who asked for new-invoice notices are e-mailed once it is committed.
Values the portal computes (status, amount paid, balance, summary by kind) are not imported.
"""

from .parse import ImportRefused, ImportResult, ParsedInvoice, invoices_parse
from .write import invoices_import

__all__ = ["ImportRefused", "ImportResult", "ParsedInvoice", "invoices_import", "invoices_parse"]
