"""Seeds a real server's database for the several-workers test (run with the server's
environment): `python -m tests.notices.seed_fanout SUBSCRIPTIONS_JSON` makes one resident per
subscription, each with that device and a verified address r<i>@example.jp, and fans a
市からのお知らせ out to all of them on e-mail and push through the engine (one task per batch of
MADOGUCHI_NOTICES_BATCH_SIZE); prints the number of deliveries queued."""

import datetime as dt
import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")

import django  # noqa: E402

django.setup()

from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from madoguchi.identity.models import Person  # noqa: E402
from madoguchi.municipalities.models import Municipality  # noqa: E402
from madoguchi.municipalities.tenancy import tenant  # noqa: E402
from madoguchi.notices import services  # noqa: E402
from madoguchi.notices.models import Category, EmailAddress, PushSubscription  # noqa: E402

subscriptions = json.loads(sys.argv[1])
municipality = Municipality.objects.get(code="139998")
with tenant(municipality), transaction.atomic():
    ids = []
    for i, subscription in enumerate(subscriptions):
        person = Person.objects.create(verified_name=f"通知　{i}", verified_birth_date=dt.date(1990, 1, 1),
                                       verified_sex="2", verified_address="東京都窓口市本町一丁目1番1号",
                                       verified_at=timezone.now())
        EmailAddress.objects.create(municipality=municipality, person=person, address=f"r{i}@example.jp",
                                    verified_at=timezone.now())
        PushSubscription.objects.create(municipality=municipality, person=person, endpoint=subscription["endpoint"],
                                        p256dh=subscription["keys"]["p256dh"], auth=subscription["keys"]["auth"])
        ids.append(person.pk)
    queued = sum(services.fan_out(ids, channel_name=channel, category=Category.ANNOUNCEMENTS,
                                  kind="broadcast.test", link="/139998/notices/") for channel in ("email", "push"))
print(queued)
