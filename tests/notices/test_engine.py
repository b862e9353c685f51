"""The delivery engine: a Delivery per recipient and channel, sent by the Tasks worker
in batches (on both Tasks backends: the database queue and RQ on Redis), bounded retries with backoff,
idempotent by delivery id, a poison message failing alone."""

import datetime as dt
import email
import email.policy

from django.utils import timezone

from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.notices import services
from madoguchi.notices.channels import DELIVERY_CHANNELS, DeliveryChannel
from madoguchi.notices.models import Category, Delivery
from madoguchi.registry import UnknownName

from .conftest import queued_tasks, run_worker, verified_address



def queue(municipality, *persons, channel="email", kind="application.returned"):
    with tenant(municipality):
        return services.enqueue([p.pk for p in persons], channel_name=channel, category=Category.APPLICATIONS,
                                kind=kind, link=f"/{municipality.code}/notices/")


def test_the_email_channel_is_opened_by_name_and_an_unknown_one_is_refused():
    assert DELIVERY_CHANNELS.get("email").name == "email"
    try:
        DELIVERY_CHANNELS.get("fax")
    except UnknownName as exc:
        assert "unknown delivery channel 'fax'; known: email" in str(exc)
    else:
        raise AssertionError("fax was accepted")


def test_a_delivery_per_reachable_person_sent_by_the_worker(muni_a, taro, hanako, smtp, tasks_backend,
                                                            django_capture_on_commit_callbacks):
    verified_address(muni_a, taro, "taro@example.jp")  # hanako has no address: skipped, not failed
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = queue(muni_a, taro, hanako)
    assert delivery.person_id == taro.pk and delivery.status == "queued"
    assert [(name, args) for name, args, _after in queued_tasks()] == [("send_batch", [muni_a.code, [delivery.pk]])]
    assert run_worker() == 1
    with tenant(muni_a):
        delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1) and delivery.sent_at
    (rcpts, raw), = smtp.messages
    assert rcpts == ["taro@example.jp"]
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    # UTF-8 encoded words (RFC 2047); the folded header unfolds to the Japanese title.
    assert b"=?utf-8?b?" in raw.split(b"\n\n", 1)[0]
    assert mail["Subject"].strip() == "[申請の状況] 申請内容の補正をお願いします"


def people(municipality, n):
    from madoguchi.identity.models import Person

    with tenant(municipality):
        return [Person.objects.create(verified_name=f"通知　{i}", verified_birth_date=dt.date(1990, 1, 1),
                                      verified_sex="1", verified_address="東京都窓口市本町一丁目1番1号",
                                      verified_at=timezone.now()) for i in range(n)]


def test_a_fan_out_is_one_task_per_batch_and_every_delivery_goes_once(
        muni_a, smtp, settings, tasks_backend, django_capture_on_commit_callbacks):
    settings.NOTICES_BATCH_SIZE = 3
    persons = people(muni_a, 7)
    for p in persons:
        verified_address(muni_a, p, f"p{p.pk}@example.jp")
    with django_capture_on_commit_callbacks(execute=True):
        with tenant(muni_a):
            assert services.fan_out([p.pk for p in persons], channel_name="email", category=Category.ANNOUNCEMENTS,
                                    kind="broadcast", link=f"/{muni_a.code}/notices/") == 7
    tasks = queued_tasks()
    assert [len(args[1]) for _name, args, _after in tasks] == [3, 3, 1]
    assert run_worker() == 3
    with tenant(muni_a):
        assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert sorted(r for rcpts, _raw in smtp.messages for r in rcpts) == sorted(f"p{p.pk}@example.jp" for p in persons)
    # The same batches again (a retried or duplicated task): nothing is sent twice.
    from madoguchi.notices.tasks import send_batch

    for _name, args, _after in tasks:
        assert send_batch.call(*args)["skipped"] == len(args[1])
    assert len(smtp.messages) == 7


def test_a_fan_out_reaches_only_usable_addresses_of_the_municipality_and_respects_silencing(
        muni_a, muni_b, smtp, tasks_backend, django_capture_on_commit_callbacks):
    # On PostgreSQL the fan-out filters inside one INSERT (the channel's query of whom it
    # reaches, and the silenced categories); elsewhere in Python: both must choose the same.
    from madoguchi.notices.models import EmailAddress, Silenced

    wanted, silenced, unverified, unsubscribed, elsewhere, none = people(muni_a, 6)
    for p in (wanted, silenced):
        verified_address(muni_a, p, f"p{p.pk}@example.jp")
    with tenant(muni_a):
        EmailAddress.objects.create(municipality=muni_a, person=unverified, address="u@example.jp")
        EmailAddress.objects.create(municipality=muni_a, person=unsubscribed, address="s@example.jp",
                                    verified_at=timezone.now(), unsubscribed_at=timezone.now())
        Silenced.objects.create(municipality=muni_a, person=silenced, category=Category.ANNOUNCEMENTS)
    verified_address(muni_b, elsewhere, "b@example.jp")  # an address this municipality does not hold
    everyone = [p.pk for p in (wanted, silenced, unverified, unsubscribed, elsewhere, none)]
    with django_capture_on_commit_callbacks(execute=True), tenant(muni_a):
        assert services.fan_out(everyone, channel_name="email", category=Category.ANNOUNCEMENTS,
                                kind="broadcast", link=f"/{muni_a.code}/notices/") == 1
        assert services.fan_out(everyone, channel_name="email", category=Category.EMERGENCY,
                                kind="broadcast", link=f"/{muni_a.code}/notices/") == 2
        reached = sorted(Delivery.objects.values_list("category", "person_id"))
    assert reached == sorted([(Category.ANNOUNCEMENTS, wanted.pk), (Category.EMERGENCY, wanted.pk),
                              (Category.EMERGENCY, silenced.pk)])


def test_a_batch_of_mail_is_one_smtp_session(muni_a, smtp, settings, tasks_backend, django_capture_on_commit_callbacks):
    settings.NOTICES_BATCH_SIZE = 50
    persons = people(muni_a, 5)
    for p in persons:
        verified_address(muni_a, p, f"p{p.pk}@example.jp")
    with django_capture_on_commit_callbacks(execute=True), tenant(muni_a):
        services.fan_out([p.pk for p in persons], channel_name="email", category=Category.ANNOUNCEMENTS,
                         kind="broadcast", link=f"/{muni_a.code}/notices/")
    assert run_worker() == 1
    assert len(smtp.messages) == 5 and smtp.sessions == 1
    # The body is rendered once for the batch; each mail still carries its own unsubscribe link.
    links = {email.message_from_bytes(raw, policy=email.policy.default)["List-Unsubscribe"] for _r, raw in smtp.messages}
    assert len(links) == 5
    for _rcpts, raw in smtp.messages:
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        link = mail["List-Unsubscribe"].strip().strip("<>")
        assert link in mail.get_body(("plain",)).get_content()
        assert link in mail.get_body(("html",)).get_content()


def test_a_row_is_claimed_by_one_worker_only_and_a_stale_claim_is_swept_back(
        muni_a, taro, hanako, smtp, settings, tasks_backend, django_capture_on_commit_callbacks):
    verified_address(muni_a, taro, "taro@example.jp")
    verified_address(muni_a, hanako, "hanako@example.jp")
    with django_capture_on_commit_callbacks(execute=True):
        rows = queue(muni_a, taro, hanako)
    ids = [d.pk for d in rows]
    now = timezone.now()
    with tenant(muni_a):
        assert services.claim(ids, now) == ids
        assert services.claim(ids, now) == []  # a second worker wins nothing
    # A worker killed after claiming: the claim goes stale and the sweep queues the rows again.
    settings.NOTICES_CLAIM_STALE_SECONDS = 60
    Delivery.unscoped.filter(pk__in=ids).update(claimed_at=now - dt.timedelta(seconds=61))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sweep() == 2
    run_worker()
    with tenant(muni_a):
        assert list(Delivery.objects.values_list("status", flat=True).distinct()) == ["sent"]
    assert sorted(r for rcpts, _raw in smtp.messages for r in rcpts) == ["hanako@example.jp", "taro@example.jp"]


def test_a_retried_task_never_sends_twice(muni_a, taro, smtp, tasks_backend, django_capture_on_commit_callbacks):
    verified_address(muni_a, taro, "taro@example.jp")
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = queue(muni_a, taro)
    ((_name, args, _after),) = queued_tasks()
    run_worker()
    # The same task again (a worker that died after sending, a duplicate enqueue): nothing sent.
    from madoguchi.notices.tasks import send_batch, send_delivery

    assert send_batch.call(*args) == {"sent": 0, "retry": 0, "failed": 0, "skipped": 1, "deferred": 0}
    assert send_delivery.call(muni_a.code, str(delivery.public_id)) == "sent"
    assert len(smtp.messages) == 1


def test_a_transient_failure_is_retried_with_backoff_then_fails_after_the_last_attempt(
        muni_a, taro, smtp, tasks_backend, django_capture_on_commit_callbacks):
    verified_address(muni_a, taro, "busy@example.jp")  # 451 every time
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = queue(muni_a, taro)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_worker() == 1  # the first attempt, through the batch task
    for n in range(1, services.MAX_ATTEMPTS + 1):
        with tenant(muni_a):
            delivery.refresh_from_db()
        assert delivery.attempts == n and "451" in delivery.last_error
        if n < services.MAX_ATTEMPTS:
            assert delivery.status == "queued"
            # The retry waits BACKOFF[n] seconds: a task of its own, not ready yet.
            name, args, after = queued_tasks()[-1]
            assert (name, args[1]) == ("send_batch", [delivery.pk])
            assert after >= delivery.next_attempt_at - dt.timedelta(seconds=1)
            assert delivery.next_attempt_at >= timezone.now() + dt.timedelta(seconds=services.BACKOFF[n] - 5)
            assert run_worker() == 0  # not due: the worker leaves it
            with django_capture_on_commit_callbacks(execute=True):
                with tenant(muni_a):  # its time has come (an explicit attempt stands for the clock)
                    services.attempt(str(delivery.public_id))
        else:
            assert delivery.status == "failed"
    # Bounded: a failed delivery is never tried again, and it was a transient failure, so
    # the address stays usable.
    with tenant(muni_a):
        assert services.attempt(str(delivery.public_id)) == "failed"
        assert delivery.attempts == services.MAX_ATTEMPTS
        from madoguchi.notices.models import EmailAddress

        assert EmailAddress.objects.get(person=taro).invalid_at is None
        assert AuditEvent.objects.filter(action="notices.delivery_failed").count() == 1
    assert smtp.messages == []


class Exploding(DeliveryChannel):
    """A channel whose send raises for one person: a poison message."""

    name = "exploding"
    sent = []

    def recipients(self, person_ids):
        return set(person_ids)

    def send(self, delivery, message):
        if delivery.person.verified_name.startswith("窓口　太郎"):
            raise RuntimeError("poison")
        Exploding.sent.append(delivery.person_id)


def test_a_poison_message_fails_alone_and_blocks_nobody(muni_a, taro, hanako, tasks_backend,
                                                         django_capture_on_commit_callbacks):
    DELIVERY_CHANNELS.register("exploding", "test: raises for one person")(Exploding)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            poison, good = sorted(queue(muni_a, taro, hanako, channel="exploding"), key=lambda d: d.person_id != taro.pk)
        assert run_worker() == 1  # one batch: the poison fails in it, the other is sent all the same
        with tenant(muni_a):
            poison.refresh_from_db()
            good.refresh_from_db()
        assert good.status == "sent" and Exploding.sent == [hanako.pk]
        assert poison.status == "queued" and poison.attempts == 1 and "RuntimeError: poison" in poison.last_error
    finally:
        DELIVERY_CHANNELS._entries.pop("exploding")
        Exploding.sent.clear()
