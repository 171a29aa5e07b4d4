"""Django admin for scorecards, tier policies and grades (imported by customers/admin.py)."""
