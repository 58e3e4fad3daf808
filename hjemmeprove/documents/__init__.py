"""Documents: PDFs (reportlab) and the e-invoice (OIOUBL XML)."""
