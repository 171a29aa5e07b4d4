"""Risk's pages, one module per page:

- ``dashboard``: the managers' dashboard (KPIs against a baseline, what needs attention now);
- ``alerts``: the alert list and an alert's page with acknowledge, resolve and assign;
- ``facilities``: the facility list and export, a facility's page, one repayment recorded there;
- ``imports``: the repayment import (upload → preview → confirm)."""
