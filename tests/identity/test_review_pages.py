import datetime as dt

import pytest

from madoguchi.identity.models import LinkReview, ResidentLink
from madoguchi.identity.services import identify
from tests.conftest import sign_in
from tests.identity.test_accounts import FACTS, card, resident


@pytest.fixture
def open_review(muni_a):
    resident(muni_a, "1001", birth=dt.date(1975, 4, 1), name="高橋太朗")  # a near miss
    person = identify(muni_a, FACTS, *card())
    return LinkReview.unscoped.get(person=person)


@pytest.mark.django_db
def test_staff_see_the_evidence_and_link(client_admin_a, muni_a, open_review):
    queue = client_admin_a.get(f"/{muni_a.code}/staff/identity-reviews/").content.decode()
    assert f"/identity-reviews/{open_review.pk}/" in queue
    page = client_admin_a.get(f"/{muni_a.code}/staff/identity-reviews/{open_review.pk}/").content.decode()
    assert "髙橋　太郎" in page and "高橋太朗" in page and "氏名が異なります" in page
    record_id = open_review.candidate_ids[0] if open_review.candidate_ids else \
        __import__("madoguchi.residents.models", fromlist=["ResidentRecord"]).ResidentRecord.unscoped.get().pk
    response = client_admin_a.post(f"/{muni_a.code}/staff/identity-reviews/{open_review.pk}/",
                                   {"decision": "link", "record": record_id})
    assert response.status_code == 302
    assert ResidentLink.unscoped.get(person=open_review.person).method == "staff"


@pytest.mark.django_db
def test_bad_decisions_change_nothing(client_admin_a, muni_a, open_review):
    url = f"/{muni_a.code}/staff/identity-reviews/{open_review.pk}/"
    for data in ({"decision": "link", "record": "abc"}, {"decision": "maybe"}, {"decision": "link", "record": "999999"}):
        assert client_admin_a.post(url, data).status_code == 302
    open_review.refresh_from_db()
    assert open_review.status == "open"


@pytest.mark.django_db
def test_viewers_cannot_decide(client, muni_a, viewer_a, open_review):
    assert sign_in(client, muni_a, *viewer_a).status_code == 302
    url = f"/{muni_a.code}/staff/identity-reviews/{open_review.pk}/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"decision": "reject"}).status_code == 403


@pytest.mark.django_db
def test_another_municipality_cannot_see_the_review(client_admin_b, muni_a, muni_b, open_review):
    assert client_admin_b.get(f"/{muni_b.code}/staff/identity-reviews/{open_review.pk}/").status_code == 404
