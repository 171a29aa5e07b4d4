class DuplicateCreditCode(Exception):
    """Another customer already has this unified social credit code."""
