"""The Celery application. Configuration lives in Django settings under ``CELERY_*``.

Settings give the *publisher's* broker options (web requests: fail fast, never wait on a dead
broker). A worker is the opposite: it must wait out any outage, so as it starts it takes
patient socket timeouts; with ``broker_connection_retry`` and ``..._retry_on_startup`` on and no
maximum, it reconnects forever — also when it is started while the broker is still down."""

import os

from celery import Celery
from celery.signals import celeryd_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

WORKER_TRANSPORT_OPTIONS = {
    # Longer than kombu's one-second BRPOP poll, which a shorter read timeout would cut off.
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
    "retry_on_timeout": True,
}


@celeryd_init.connect
def patient_worker(conf=None, **kwargs) -> None:
    conf.broker_transport_options = {**conf.broker_transport_options, **WORKER_TRANSPORT_OPTIONS}
    conf.broker_connection_timeout = 5
