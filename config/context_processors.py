from funnel.deciders import decidable_by


def exceptions(request) -> dict:
    """The top bar's count of exception requests waiting for the user's decision. A callable:
    the template calls it once, where it shows the badge (one count query); a view that has
    counted already (the home page) passes the number under the same name instead."""
    user = request.user
    if not user.is_authenticated:
        return {"exceptions_waiting": None}
    return {"exceptions_waiting": lambda: decidable_by(user).count()}
