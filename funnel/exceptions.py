class GateNotMet(Exception):
    """The deal lacks the evidence the target stage asks for; ``problems`` says what, one
    sentence per missing piece."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class StaleDeal(Exception):
    """Someone moved the deal after the user loaded it: the move named a stage the deal is no
    longer in. Carries the deal's current stage and its latest move for the conflict answer."""

    def __init__(self, *, stage: str, last_move):
        super().__init__(stage)
        self.stage = stage
        self.last_move = last_move


class NotAllowed(Exception):
    """The user may see the object but not do this to it (or not in its current state)."""
