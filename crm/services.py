"""Service helpers every app's ``services.py`` shares."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models


def fields_changed(*, instance: models.Model, fields: Iterable[str], data: Mapping[str, Any]) -> list[str]:
    """The names among ``fields`` that ``data`` gives a value different from the instance's, in
    the order of ``fields``. Keys of ``data`` outside ``fields`` are ignored, so a forged form
    field can never reach the model."""
    return [name for name in fields if name in data and getattr(instance, name) != data[name]]


def model_update(*, instance: models.Model, fields: Iterable[str], data: Mapping[str, Any]) -> list[str]:
    """Set on ``instance`` the ``fields`` whose value in ``data`` differs; return their names
    (empty: nothing to write).

    Unlike HackSoft's model_update this does not save: the callers save in their own
    transaction, after their own checks, with ``update_fields`` of the returned names plus what
    they change themselves (``updated_at``, an owner), so there is one write and the history
    records one change."""
    changed = fields_changed(instance=instance, fields=fields, data=data)
    for name in changed:
        setattr(instance, name, data[name])
    return changed
