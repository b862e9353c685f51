"""The delivery engine: a Delivery per recipient and channel, sent by the Tasks worker
(the database backend's db_worker, in batch mode), bounded retries with backoff,
idempotent by delivery id, a poison message failing alone."""

import datetime as dt
import email
import email.policy

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.notices import services
from madoguchi.notices.channels import DELIVERY_CHANNELS, DeliveryChannel
from madoguchi.notices.models import Category, Delivery
from madoguchi.registry import UnknownName

from .conftest import run_worker, verified_address



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


def test_a_delivery_per_reachable_person_sent_by_the_worker(muni_a, taro, hanako, smtp,
                                                            django_capture_on_commit_callbacks):
    verified_address(muni_a, taro, "taro@example.jp")  # hanako has no address: skipped, not failed
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = queue(muni_a, taro, hanako)
    assert delivery.person_id == taro.pk and delivery.status == "queued"
    run_worker()
    with tenant(muni_a):
        delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1) and delivery.sent_at
    (rcpts, raw), = smtp.messages
    assert rcpts == ["taro@example.jp"]
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    # UTF-8 encoded words (RFC 2047); the folded header unfolds to the Japanese title.
    assert b"=?utf-8?b?" in raw.split(b"\n\n", 1)[0]
    assert mail["Subject"].strip() == "[申請の状況] 申請内容の補正をお願いします"


def test_a_retried_task_never_sends_twice(muni_a, taro, smtp, django_capture_on_commit_callbacks):
    verified_address(muni_a, taro, "taro@example.jp")
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = queue(muni_a, taro)
    (task,) = DBTaskResult.objects.all()
    run_worker()
    # The same task again (a worker that died after sending, a duplicate enqueue): nothing sent.
    from madoguchi.notices.tasks import send_delivery

    assert send_delivery.call(*task.args_kwargs["args"]) == "sent"
    assert send_delivery.call(*task.args_kwargs["args"]) == "sent"
    assert len(smtp.messages) == 1


def test_a_transient_failure_is_retried_with_backoff_then_fails_after_the_last_attempt(
        muni_a, taro, smtp, django_capture_on_commit_callbacks):
    verified_address(muni_a, taro, "busy@example.jp")  # 451 every time
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = queue(muni_a, taro)
    for n in range(1, services.MAX_ATTEMPTS + 1):
        before = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            with tenant(muni_a):
                status = services.attempt(str(delivery.public_id))
        with tenant(muni_a):
            delivery.refresh_from_db()
        assert delivery.attempts == n and "451" in delivery.last_error
        if n < services.MAX_ATTEMPTS:
            assert status == "queued"
            retry = DBTaskResult.objects.order_by("-enqueued_at").first()
            assert retry.run_after >= before + dt.timedelta(seconds=services.BACKOFF[n])
            assert delivery.next_attempt_at >= before + dt.timedelta(seconds=services.BACKOFF[n])
        else:
            assert status == "failed"
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


def test_a_poison_message_fails_alone_and_blocks_nobody(muni_a, taro, hanako, django_capture_on_commit_callbacks):
    DELIVERY_CHANNELS.register("exploding", "test: raises for one person")(Exploding)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            poison, good = sorted(queue(muni_a, taro, hanako, channel="exploding"), key=lambda d: d.person_id != taro.pk)
        run_worker()  # the poison's attempt fails first or after; the other is sent either way
        with tenant(muni_a):
            poison.refresh_from_db()
            good.refresh_from_db()
        assert good.status == "sent" and Exploding.sent == [hanako.pk]
        assert poison.status == "queued" and poison.attempts == 1 and "RuntimeError: poison" in poison.last_error
    finally:
        DELIVERY_CHANNELS._entries.pop("exploding")
        Exploding.sent.clear()
