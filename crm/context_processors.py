from crm.jobs import jobs_delayed
from crm.roles import role_of


def crm(request) -> dict:
    """The role for the top bar, and whether background work is late. The latter is one read
    of the jobs table's small index of unfinished work, made only when a page shows it: no
    page waits on the broker or the cache, whatever state they are in."""
    role = role_of(request.user)
    return {
        "crm_role": role,
        "crm_role_label": role.label if role else "",
        # A callable: the template calls it once, where it shows the notice.
        "jobs_delayed_since": jobs_delayed if request.user.is_authenticated else None,
    }
