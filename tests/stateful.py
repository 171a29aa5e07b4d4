"""What the project's hypothesis state machines share: each example runs inside a savepoint
rolled back at its end (the triggers' writes with it), so every example starts from the data the
test made before the machine ran, and the settings they run under."""

from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine


class InSavepoint(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)


def machine_settings(*, examples: int, steps: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,  # no example database under .hypothesis/ (the suite runs without caches)
        suppress_health_check=[HealthCheck.too_slow],
    )
