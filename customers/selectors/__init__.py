"""Reads behind the customer pages, so views and templates stay query-free:

- ``customers``: a customer's page — its history, grading explained, data sources;
- ``overview``: the portfolio pages — customers and exposure per tier, the tier migration
  matrix, data-quality counts. Each takes a queryset the caller scoped with ``customers_for``."""
