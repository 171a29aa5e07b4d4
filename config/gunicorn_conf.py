"""gunicorn's settings for this app: ``gunicorn -c config/gunicorn_conf.py config.wsgi``.

Options given on the command line win over these (``--workers 5``, ``--bind …``).

- Sync workers, one more than the cores. Measured at a million customers on 2 cores (README,
  Benchmarks → Pages): 4 and 5 workers served less than 3, each extra one adding a Python
  process and a PostgreSQL backend on the same cores; 2 served about as much, but leave no
  worker free while one waits on a slow export.
- Each worker freezes what it holds once the app is loaded (``gc.freeze``): Django, the apps
  and their modules, ~95,000 objects that live as long as the process (the log says how many).
  Without it every full garbage collection walks them all again — ~100 ms in the middle of
  some request — and the young collections run far more often than a page needs. Measured
  in-process over the page mix at 1M: collection took 2.3 ms a request, 0.7 ms with this.
"""

import gc
import os

workers = (os.cpu_count() or 1) + 1
worker_class = "sync"
timeout = 30

# Young objects before a collection (the default is 700): a page builds a few thousand.
GC_THRESHOLD = (10_000, 10, 10)


def freeze_loaded_objects() -> int:
    """Move every object alive now into the permanent generation, which collections skip,
    and collect the young generation less often. Returns the objects frozen."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    return gc.get_freeze_count()


def post_worker_init(worker) -> None:
    """gunicorn calls this in each worker after it has loaded the app, before its first request."""
    worker.log.info("worker %s: %d objects of the loaded app frozen", worker.pid, freeze_loaded_objects())
