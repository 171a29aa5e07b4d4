class DuplicateCreditCode(Exception):
    """Another customer already has this unified social credit code."""


class NotAllowed(Exception):
    """The action is not possible in the object's current state."""


class ScorecardInvalid(Exception):
    """The scorecard cannot be published; ``errors`` says why, one message per problem."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors
