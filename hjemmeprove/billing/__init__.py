"""Billing: rates and indexation, the fee model, route allocation, invoices, follow-up counts."""
