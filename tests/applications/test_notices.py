"""Notice channels (applications/notices): the notices listener delivers each transition
through the channels settings.NOTICE_CHANNELS names; the in-portal inbox is one."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from madoguchi.applications import notices
from madoguchi.applications.models import Notice
from madoguchi.applications.notices.base import CHANNELS, Channel
from madoguchi.applications.services import Upload, submit
from madoguchi.municipalities.tenancy import tenant
from madoguchi.registry import Entry

from .conftest import version_of
from .helpers import PNG, RISAI, key


def test_the_inbox_is_a_registered_channel_that_says_what_it_is():
    assert "inbox" in CHANNELS.names()
    assert "in-portal inbox" in CHANNELS.entry("inbox").description


def test_the_listener_delivers_through_the_configured_channels(catalog_a, taro, settings, monkeypatch):
    told = []

    class Recorder(Channel):
        def deliver(self, transitions):
            told.extend((t.source, t.target, t.application.person_id) for t in transitions)

    monkeypatch.setitem(CHANNELS._entries, "recorder", Entry("recorder", Recorder, "a test's channel"))
    settings.NOTICE_CHANNELS = ["recorder"]  # not the inbox: no notice row
    application, _ = submit(version_of(catalog_a, "risai-shoumei"), taro, RISAI, idempotency_key=key(),
                            uploads=[Upload("photo.png", PNG)])
    assert told == [("draft", "submitted", taro.pk)]
    with tenant(catalog_a):
        assert not Notice.objects.filter(application=application).exists()
    settings.NOTICE_CHANNELS = ["inbox", "recorder"]
    second, _ = submit(version_of(catalog_a, "risai-shoumei"), taro, RISAI, idempotency_key=key(),
                       uploads=[Upload("photo.png", PNG)])
    assert len(told) == 2
    with tenant(catalog_a):
        assert list(Notice.objects.filter(application=second).values_list("kind", flat=True)) == ["submitted"]


def test_an_unknown_channel_is_a_configuration_error_that_names_it(settings):
    settings.NOTICE_CHANNELS = ["inbox", "carrier-pigeon"]
    with pytest.raises(ImproperlyConfigured, match="unknown notice channel 'carrier-pigeon'; known: email, inbox, push"):
        notices.channels()
