"""The jobs' processes: `taskiq worker worker:broker` and `taskiq scheduler worker:scheduler`.

`make worker` and `make scheduler` run them; start as many workers as the load needs, and one
scheduler. Both use the settings (REDIS_URL, DATABASE_URL) and the manifest's JOBS.
"""

from core.cache import cache
from core.events import bus
from core.jobs import runtime as jobs_runtime
from core.jobs.worker import create_scheduler, install_worker_hooks
from core.logging import configure_logging
from core.realtime.hub import hub
from features.registry import EVENT_HANDLERS, JOBS
from settings import get_settings

settings = get_settings()
if settings.redis_url is None:
    raise SystemExit(
        "error: a worker needs REDIS_URL; without it jobs run inside the app (make dev)"
    )
configure_logging(settings)
bus.use(EVENT_HANDLERS)
runtime = jobs_runtime.start(settings, JOBS)
# Jobs that write invalidate the shared cache and tell the feeds, as requests do.
cache.use(settings, runtime.redis)
hub.use(settings, runtime.redis)
install_worker_hooks(runtime)
broker = runtime.broker
scheduler = create_scheduler(broker)
