"""Scheduled duties and what they produce: deletion certificates, returns, inspections, incidents."""
