from crm.queue import broker_delayed
from crm.roles import role_of


def crm(request) -> dict:
    role = role_of(request.user)
    return {
        "crm_role": role,
        "crm_role_label": role.label if role else "",
        "broker_delayed": broker_delayed() if request.user.is_authenticated else False,
    }
