"""Risk's pages, one module per page:

- ``dashboard``: the managers' dashboard (KPIs against a baseline, what needs attention now);
- ``alerts``: the alert list and an alert's page with acknowledge, resolve and assign;
- ``imports``: the repayment import (upload → preview → confirm)."""
