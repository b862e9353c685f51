"""Web Push (RFC 8030 delivery, RFC 8291 aes128gcm encryption, RFC 8292 VAPID) through
pywebpush, with the municipality's VAPID key. One delivery goes to every device of the
person: a 404/410 answer removes that device's subscription; a delivery is sent when one
device took it, retried when none did and one may later, failed when none is left."""

import contextlib
import json
import os
from urllib.parse import urlsplit

import requests
from django.conf import settings
from pywebpush import WebPushException, webpush

from madoguchi.municipalities.tenancy import current_municipality
from madoguchi.notices.channels.base import DELIVERY_CHANNELS, DeliveryChannel, Message, PermanentFailure, TransientFailure

TTL = 24 * 3600


@DELIVERY_CHANNELS.register("push", "Web Push to the resident's subscribed devices (VAPID key per municipality)")
class WebPushChannel(DeliveryChannel):
    name = "push"
    session = None  # the batch's HTTP session (connections kept alive to the push services)
    devices = None  # person id → subscriptions, read for the batch (prepare)
    signers = None  # VAPID public key → signer, looked up once per batch (the key file is read each time)

    def prepare(self, deliveries) -> None:
        from madoguchi.notices.models import PushSubscription

        self.devices = {}
        for row in PushSubscription.objects.filter(person_id__in=[d.person_id for d in deliveries]).order_by("pk"):
            self.devices.setdefault(row.person_id, []).append(row)

    @contextlib.contextmanager
    def batch(self):
        self.session = requests.Session()
        # The proxy variables (HTTPS_PROXY, NO_PROXY) are read once per push service and
        # batch, not for every request: requests' per-request lookup cost more than the
        # encryption.
        self.session.trust_env = False
        self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self.proxies = {}
        self.signers = {}
        try:
            yield self
        finally:
            self.session.close()
            self.session, self.signers = None, None

    def recipients(self, person_ids):
        from madoguchi.notices.models import PushSubscription

        return set(PushSubscription.objects.filter(person_id__in=person_ids).values_list("person_id", flat=True))

    def reachable(self):
        from madoguchi.notices.models import PushSubscription

        return PushSubscription.objects.values("person_id")

    def send(self, delivery, message: Message) -> None:
        from madoguchi.notices import push, vapid
        from madoguchi.notices.models import PushSubscription

        code = current_municipality().code
        payload = json.dumps({"title": message.title, "category": message.category_label, "url": message.url},
                             ensure_ascii=False)
        if self.devices is not None:
            devices = self.devices.get(delivery.person_id, [])
        else:
            devices = list(PushSubscription.objects.filter(person_id=delivery.person_id))
        sent, transient = 0, []
        for device in devices:
            # Each device is pushed with the key it subscribed with (kept after a rotation).
            if self.signers is None:
                signer = vapid.signer(code, device.vapid_key)
            elif (signer := self.signers.get(device.vapid_key)) is None:
                signer = self.signers[device.vapid_key] = vapid.signer(code, device.vapid_key)
            if signer is None:
                transient.append(f"no VAPID key for {code}")
                continue
            if self.session is not None:
                origin = urlsplit(device.endpoint).netloc
                if origin not in self.proxies:
                    self.proxies[origin] = requests.utils.get_environ_proxies(device.endpoint)
                self.session.proxies = self.proxies[origin]
            try:
                webpush({"endpoint": device.endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}},
                        data=payload, vapid_private_key=signer, vapid_claims={"sub": settings.NOTICES_PUSH_CONTACT},
                        content_encoding="aes128gcm", ttl=TTL, timeout=10, requests_session=self.session)
                sent += 1
            except WebPushException as exc:
                status = exc.response.status_code if exc.response is not None else None
                if status in (404, 410):
                    push.gone(device, status)
                else:
                    transient.append(f"push {status}")
            except requests.RequestException as exc:
                transient.append(type(exc).__name__)
        if sent:
            return
        if transient:
            raise TransientFailure(", ".join(transient)[:150])
        raise PermanentFailure("no subscribed device left")
