"""A real SMTP server (aiosmtpd) on a free port receives the notices' mail over TCP."""

import datetime as dt
import os

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from madoguchi.municipalities.tenancy import tenant
from madoguchi.notices.models import EmailAddress
from tests.applications.conftest import (  # noqa: F401  (fixtures)
    HANAKO, TARO, app_settings, catalog_a, dev_pki, hanako, pki, taro)
from tests.server import free_port


class Sink:
    """Accepts every recipient except bounce@… (550, permanent) and busy@… (451, transient)."""

    def __init__(self):
        self.messages = []  # (envelope recipients, raw bytes)
        self.sessions = 0  # SMTP sessions opened (EHLO/HELO received)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        self.sessions += 1
        session.host_name = hostname
        return "250 {}".format(server.hostname)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce@"):
            return "550 5.1.1 no such user"
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 Message accepted"


@pytest.fixture
def smtp(settings):
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = False
    settings.DEFAULT_FROM_EMAIL = "oshirase@madoguchi.example"
    settings.SITE_URL = "https://madoguchi.example"
    yield sink
    controller.stop()


def verified_address(municipality, person, address):
    with tenant(municipality):
        return EmailAddress.objects.create(municipality=municipality, person=person, address=address,
                                           verified_at=timezone.now())


@pytest.fixture
def push_service(muni_a, settings, tmp_path):
    from madoguchi.notices import vapid

    from .pushservice import PushService

    settings.DATA_DIR = tmp_path / "data"
    settings.SITE_URL = "https://madoguchi.example"
    vapid.ensure(muni_a.code)
    service = PushService(vapid.public_key(muni_a.code))
    yield service
    service.stop()


# This run's Redis database (flushed by the fixture): `make test` gives the SQLite and the
# PostgreSQL runs, which run side by side, a database each.
TEST_REDIS_URL = f"redis://127.0.0.1:6379/{os.environ.get('MADOGUCHI_TEST_REDIS_DB', '1')}"


@pytest.fixture(params=["database", "rq"])
def tasks_backend(request, settings):
    """The delivery tests run on both Tasks backends: the database queue (the default) and
    RQ on the local Redis (django-tasks-rq), configured as MADOGUCHI_TASKS_BACKEND=rq does;
    with Redis configured the rate limits use its token bucket too."""
    if request.param == "rq":
        import redis

        client = redis.Redis.from_url(TEST_REDIS_URL)
        client.flushdb()
        settings.TASKS_BACKEND, settings.REDIS_URL = "rq", TEST_REDIS_URL
        settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
        settings.RQ_QUEUES = {"default": {"URL": TEST_REDIS_URL, "DEFAULT_TIMEOUT": 600}}
        yield "rq"
        client.flushdb()
    else:
        yield "database"


def queued_tasks() -> list[tuple[str, list, dt.datetime | None]]:
    """The tasks waiting on the configured backend: (task name, args, run_after or None)."""
    from django.conf import settings

    if settings.TASKS_BACKEND == "rq":
        import django_rq
        from rq.registry import ScheduledJobRegistry

        queue = django_rq.get_queue("default")
        scheduled = ScheduledJobRegistry(queue=queue)
        out = [(job.func_name.rsplit(".", 1)[-1], list(job.args), None) for job in queue.jobs]
        for job_id in scheduled.get_job_ids():
            job = queue.fetch_job(job_id)
            out.append((job.func_name.rsplit(".", 1)[-1], list(job.args), scheduled.get_scheduled_time(job)))
        return out
    from django_tasks_db.models import DBTaskResult, get_date_max

    never = get_date_max()
    return [(r.task_path.rsplit(".", 1)[-1], r.args_kwargs["args"], None if r.run_after == never else r.run_after)
            for r in DBTaskResult.objects.filter(status="READY").order_by("enqueued_at")]


def run_worker() -> int:
    """Runs the ready tasks of the configured backend in this process until none is left;
    returns how many ran (RQ: a SimpleWorker in burst mode, the worker `madoguchi worker` runs)."""
    from django.conf import settings

    if settings.TASKS_BACKEND == "rq":
        from madoguchi.core.management.commands.worker import rq_worker

        from django_tasks.signals import task_finished

        finished = []

        def count(sender, task_result, **kwargs):
            finished.append(task_result.id)

        task_finished.connect(count, weak=False)
        try:
            rq_worker().work(burst=True, logging_level="WARNING")
        finally:
            task_finished.disconnect(count)
        return len(finished)
    return run_db_worker()


def run_db_worker() -> int:
    """The database backend's worker loop (django_tasks_db's Worker: claim a ready task,
    run it, record its result) in this process, until no task is ready; returns how many
    ran. `db_worker` itself closes the connection between tasks, which the test's
    transaction would not survive."""
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
                    max_tasks=None, worker_id="test-worker", excluded_queue_names=[])
    ran = 0
    while (result := DBTaskResult.objects.ready().filter(backend_name="default").get_locked()) is not None:
        result.claim(worker.worker_id)
        worker.run_task(result)
        ran += 1
    return ran
