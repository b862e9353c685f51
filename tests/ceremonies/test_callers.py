"""ceremonies.callers, the ceremony API for other apps: the browser path hands a taken
result to the page it was opened for, once."""

from types import SimpleNamespace

import pytest

from madoguchi.ceremonies import callers
from madoguchi.ceremonies.models import Ceremony
from madoguchi.municipalities.tenancy import tenant


@pytest.mark.django_db
def test_a_taken_result_is_handed_over_once_to_its_continuation(muni_a):
    opened = callers.open("sign", municipality=muni_a, reason="t", document_sha256="0" * 64)
    with tenant(muni_a):
        Ceremony.objects.filter(public_id=opened.id).update(status=Ceremony.Status.CONSUMED)
        request = SimpleNamespace(session={})
        callers.hand_over(request, opened.id, f"/{muni_a.code}/apply/x/signed/")
        assert callers.take_in_session(request, f"/{muni_a.code}/elsewhere/") is None
        result = callers.take_in_session(request, f"/{muni_a.code}/apply/x/signed/")
        assert (result.id, result.purpose, result.document_sha256) == (opened.id, "sign", "0" * 64)
        assert callers.take_in_session(request, f"/{muni_a.code}/apply/x/signed/") is None


def test_purposes_are_labelled_for_callers():
    assert set(callers.purpose_labels()) == {"login", "identify", "sign", "presence"}
