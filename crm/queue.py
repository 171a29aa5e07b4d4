"""Queuing background work without ever hanging or breaking a page.

Tasks are sent after the surrounding transaction commits (so the worker sees the rows), and a
broker that refuses or does not answer costs the request at most the socket timeouts set in
settings: the failure is logged and shown as "background processing is delayed"."""

import logging

from celery import Task
from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

BROKER_DELAYED_KEY = "crm:broker-delayed"
BROKER_DELAYED_SECONDS = 5 * 60


def enqueue(task: Task, *args, **kwargs) -> None:
    def send() -> None:
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception:
            # Whatever the broker client raises (refused, timed out, DNS), the user's change is
            # already committed; turning it into an error page would only make them retry it.
            log.exception("Could not queue %s%r; background processing is delayed", task.name, args)
            mark_broker_delayed()

    transaction.on_commit(send)


def mark_broker_delayed() -> None:
    try:
        cache.set(BROKER_DELAYED_KEY, True, BROKER_DELAYED_SECONDS)
    except Exception:  # a cache on the same dead Redis must not break the page either
        log.warning("Cache unavailable while recording a broker failure")


def broker_delayed() -> bool:
    try:
        return bool(cache.get(BROKER_DELAYED_KEY))
    except Exception:
        return True
