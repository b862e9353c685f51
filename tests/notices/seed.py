"""Seeds a real server's database for the worker-process test (run with the server's
environment): `python -m tests.notices.seed SUBSCRIPTION_JSON ADDRESS` makes a resident with
a verified address and one device, and queues a 防災・緊急 notice to them on e-mail and push
through the engine; prints the delivery ids as JSON."""

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

subscription, address = json.loads(sys.argv[1]), sys.argv[2]
municipality = Municipality.objects.get(code="139998")
with tenant(municipality), transaction.atomic():
    person = Person.objects.create(verified_name="通知　試験", verified_birth_date=dt.date(1990, 1, 1), verified_sex="2",
                                   verified_address="東京都窓口市本町一丁目1番1号", verified_at=timezone.now())
    EmailAddress.objects.create(municipality=municipality, person=person, address=address, verified_at=timezone.now())
    PushSubscription.objects.create(municipality=municipality, person=person, endpoint=subscription["endpoint"],
                                    p256dh=subscription["keys"]["p256dh"], auth=subscription["keys"]["auth"])
    ids = [str(d.public_id) for channel in ("email", "push") for d in services.enqueue(
        [person.pk], channel_name=channel, category=Category.EMERGENCY, kind="application.returned",
        link="/139998/notices/")]
print(json.dumps(ids))
