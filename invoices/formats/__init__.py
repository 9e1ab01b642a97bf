"""The invoice formats: PDF (WeasyPrint), CSV, XML (lxml, with an XSD) and ZIP archives of them.

Each module turns already-scoped invoices into bytes; the views and services decide who
may get which invoices. Load the invoices with ``selectors.invoice_list_for_export`` so
lines and shipments come prefetched.
"""
