from collections.abc import Sequence

from django.utils.functional import Promise


class InputRefused(Exception):
    """A risk write was refused; ``problems`` says why, one sentence per problem, ready to show
    to the user (already translated)."""

    def __init__(self, problems: Sequence[str | Promise]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class ScheduleRefused(InputRefused):
    """The repayment schedule given to ``schedule_set`` is not valid; nothing was changed."""


class RepaymentRefused(InputRefused):
    """The repayment given to ``repayment_record`` is not valid; nothing was recorded."""


class ConcurrentChange(Exception):
    """The facility's outstanding amount changed under a write that held its lock — a bug or a
    writer that skipped the lock; the transaction is rolled back rather than losing an update."""
