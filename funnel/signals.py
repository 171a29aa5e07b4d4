"""Events other apps subscribe to. The funnel never imports ``risk`` (DESIGN: dependencies run
customers ← funnel ← risk), so risk listens here and opens the facility itself.

Receivers run inside the move's transaction: if one fails, the deal is not funded either."""

from django.dispatch import Signal

# Sent once when a deal enters Funded. Arguments: deal, by, amount (Decimal), start_date (date),
# maturity_date (date or None).
deal_funded = Signal()
