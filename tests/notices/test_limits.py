"""Quiet hours (a fixed clock) and per-channel rate limits of the delivery engine, on both
Tasks backends (the rate limit: Redis's token bucket with RQ, the cache counter otherwise)."""

import datetime as dt
import time

import pytest
from django.core.management import call_command

from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.notices import quiet, ratelimit, services
from madoguchi.notices.models import Category, Delivery
from madoguchi.notices.tasks import send_batch

from .conftest import queued_tasks, run_worker, verified_address
from .test_engine import people

JST = quiet.JST


def at(hour, minute=0, day=5):
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=JST)


@pytest.mark.parametrize("now, end", [
    (at(22, 30), at(8, 0, day=6)),  # after the start: the end is tomorrow morning
    (at(3, 0), at(8, 0)),  # after midnight: this morning
    (at(21, 0), at(8, 0, day=6)),  # the first minute is quiet
    (at(8, 0), None),  # the end is not
    (at(12, 0), None),
])
def test_quiet_hours_over_midnight_end_in_the_morning(now, end):
    assert quiet.end_of((dt.time(21, 0), dt.time(8, 0)), now) == end


def test_quiet_hours_within_a_day():
    hours = (dt.time(12, 0), dt.time(13, 0))
    assert quiet.end_of(hours, at(12, 30)) == at(13, 0) and quiet.end_of(hours, at(13, 0)) is None


def test_a_push_waits_for_the_end_of_quiet_hours_an_emergency_does_not(
        client, muni_a, taro, push_service, tasks_backend, django_capture_on_commit_callbacks):
    from tests.applications.test_pages import signed_in

    from .test_push import subscribe

    call_command("notices_quiet_hours", muni_a.code, "--from", "21:00", "--until", "08:00")
    with tenant(muni_a):
        assert AuditEvent.objects.filter(action="notices.quiet_hours_changed").count() == 1
    signed_in(client, muni_a, taro)
    device = push_service.device()
    assert subscribe(client, muni_a, device.subscription(push_service.base)).status_code == 201
    evening = at(22, 30)
    with django_capture_on_commit_callbacks(execute=True), tenant(muni_a):
        for category in (Category.APPLICATIONS, Category.EMERGENCY):
            services.fan_out([taro.pk], channel_name="push", category=category, kind="application.returned",
                             link=f"/{muni_a.code}/notices/", now=evening)
        # E-mail does not ring: it is not held.
        assert quiet.deferred_until(muni_a, "email", Category.APPLICATIONS, evening) is None
    with tenant(muni_a):
        held = Delivery.objects.get(category=Category.APPLICATIONS)
        urgent = Delivery.objects.get(category=Category.EMERGENCY)
    assert held.next_attempt_at == at(8, 0, day=6) and urgent.next_attempt_at is None
    after = {args[1][0]: run_after for _name, args, run_after in queued_tasks()}
    assert after[urgent.pk] is None and after[held.pk] == at(8, 0, day=6)
    # At 23:00 the held push is not sent, and no attempt is counted; the emergency goes.
    with django_capture_on_commit_callbacks(execute=True), tenant(muni_a):
        assert services.send_batch([held.pk, urgent.pk], now=at(23, 0))["deferred"] == 1
        held.refresh_from_db()
        urgent.refresh_from_db()
    assert (held.status, held.attempts, urgent.status) == ("queued", 0, "sent")
    assert [p["category"] for _d, p in push_service.received] == ["防災・緊急"]
    # At 08:00 the next morning it goes.
    with tenant(muni_a):
        assert services.send_batch([held.pk], now=at(8, 0, day=6))["sent"] == 1
    assert [p["category"] for _d, p in push_service.received] == ["防災・緊急", "申請の状況"]
    call_command("notices_quiet_hours", muni_a.code, "--off")
    assert quiet.hours_of(muni_a) is None


@pytest.mark.parametrize("argv, error", [
    (["--from", "25:00", "--until", "08:00"], "'25:00': not a time HH:MM (Japan time)"),
    (["--from", "21:00"], "give --from HH:MM and --until HH:MM, or --off"),
    (["--from", "21:00", "--until", "21:00"], "--from and --until are the same time"),
    (["--off", "--from", "21:00"], "--off takes no --from/--until"),
])
def test_the_quiet_hours_command_refuses_bad_input_with_exit_2(muni_a, capsys, argv, error):
    from madoguchi.cli import manage

    assert manage("notices_quiet_hours", muni_a.code, *argv) == 2
    assert capsys.readouterr().err == f"madoguchi: {error}\n"
    assert quiet.hours_of(muni_a) is None


def test_deliveries_per_second_per_channel_are_limited(
        muni_a, smtp, settings, tasks_backend, django_capture_on_commit_callbacks):
    settings.NOTICES_RATE_EMAIL = 4
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"rate-{time.monotonic()}"}}
    persons = people(muni_a, 10)
    for p in persons:
        verified_address(muni_a, p, f"p{p.pk}@example.jp")
    with django_capture_on_commit_callbacks(execute=True), tenant(muni_a):
        services.fan_out([p.pk for p in persons], channel_name="email", category=Category.ANNOUNCEMENTS,
                         kind="broadcast", link=f"/{muni_a.code}/notices/")
    started = time.monotonic()
    run_worker()
    elapsed = time.monotonic() - started
    assert len(smtp.messages) == 10
    # 4 a second: ten mails cannot go within one second (the bucket holds 4; a window 4).
    assert elapsed >= 1.0, elapsed
    if tasks_backend == "rq":  # the token bucket lives in Redis, shared by every worker
        client, _script = ratelimit.redis_client()
        assert client.exists(f"madoguchi:notices:rate:{muni_a.code}:email")
    # Without a limit, taking a token never waits.
    assert ratelimit.for_channel(muni_a.code, "push").take() == 0


def test_a_duplicated_batch_task_on_the_queue_sends_once(muni_a, smtp, tasks_backend,
                                                          django_capture_on_commit_callbacks):
    persons = people(muni_a, 3)
    for p in persons:
        verified_address(muni_a, p, f"p{p.pk}@example.jp")
    with django_capture_on_commit_callbacks(execute=True), tenant(muni_a):
        services.fan_out([p.pk for p in persons], channel_name="email", category=Category.ANNOUNCEMENTS,
                         kind="broadcast", link=f"/{muni_a.code}/notices/")
    ((_name, args, _after),) = queued_tasks()
    send_batch.enqueue(*args)  # the same batch twice on the queue
    assert run_worker() == 2
    assert len(smtp.messages) == 3
