import datetime as dt
import itertools

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.identity.models import CardCredential, LinkReview, Person, ResidentLink
from madoguchi.identity.services import CertificateRef, FourFacts, ReviewError, identify, resolve_review
from madoguchi.residents.models import ResidentRecord
from tests.identity.certs import certificate

_serials = itertools.count(1000)
FACTS = FourFacts(name="髙橋　太郎", birth_date=dt.date(1975, 4, 1), sex="1", address="東京都窓口市本町1-1")


def card():
    return CertificateRef.from_der(certificate(next(_serials))), CertificateRef.from_der(certificate(next(_serials)))


def resident(municipality, number, name="高橋太郎", birth=dt.date(1975, 4, 1), sex="1", status="resident"):
    return ResidentRecord.unscoped.create(municipality=municipality, resident_number=number, name=name,
                                          birth_date=birth, sex=sex, address="東京都窓口市本町1-1", status=status)


@pytest.mark.django_db
def test_identify_creates_a_person_and_links_the_unique_record(muni_a):
    record = resident(muni_a, "1001")
    auth, sign = card()
    person = identify(muni_a, FACTS, auth, sign)
    assert set(CardCredential.objects.filter(person=person).values_list("purpose", flat=True)) == {"auth", "sign"}
    link = ResidentLink.unscoped.get(municipality=muni_a, person=person)
    assert link.record == record and link.method == "automatic"
    assert person.verified_name == "髙橋　太郎"  # kept as the certificate has it
    actions = set(AuditEvent.unscoped.filter(municipality=muni_a).values_list("action", flat=True))
    assert {"identity.identified", "identity.resident_linked"} <= actions


@pytest.mark.django_db
def test_identify_again_with_the_same_card_is_the_same_person(muni_a):
    resident(muni_a, "1001")
    auth, sign = card()
    assert identify(muni_a, FACTS, auth, sign) == identify(muni_a, FACTS, auth, sign)
    assert Person.objects.count() == 1 and CardCredential.objects.count() == 2


@pytest.mark.django_db
def test_a_renewed_card_joins_the_person_through_the_resident_record(muni_a):
    resident(muni_a, "1001")
    first = identify(muni_a, FACTS, *card())
    renewed = identify(muni_a, FACTS, *card())
    assert renewed == first
    assert CardCredential.objects.filter(person=first).count() == 4


@pytest.mark.django_db
def test_no_match_opens_a_review_with_the_evidence(muni_a):
    resident(muni_a, "1001", birth=dt.date(1975, 4, 2))
    person = identify(muni_a, FACTS, *card())
    review = LinkReview.unscoped.get(municipality=muni_a, person=person)
    assert review.reason == "no_match" and review.evidence["birth_date"] == "1975-04-01"
    assert not ResidentLink.unscoped.filter(person=person).exists()


@pytest.mark.django_db
def test_several_matches_open_a_review_instead_of_guessing(muni_a):
    resident(muni_a, "1001")
    resident(muni_a, "1002", name="髙橋 太郎")
    person = identify(muni_a, FACTS, *card())
    review = LinkReview.unscoped.get(municipality=muni_a, person=person)
    assert review.reason == "several_matches" and len(review.candidate_ids) == 2


@pytest.mark.django_db
def test_deceased_records_never_match_and_moved_out_records_do(muni_a):
    resident(muni_a, "1001", status="deceased")
    person = identify(muni_a, FACTS, *card())
    assert LinkReview.unscoped.filter(person=person).exists()
    resident(muni_a, "2001", name="山田花子", birth=dt.date(1990, 1, 1), sex="2", status="moved_out")
    other = identify(muni_a, FourFacts("山田　花子", dt.date(1990, 1, 1), "2", "x"), *card())
    assert ResidentLink.unscoped.filter(person=other).exists()


@pytest.mark.django_db
def test_the_substitute_character_form_matches_too(muni_a):
    resident(muni_a, "1001", name="𠮷田一郎")
    facts = FourFacts(name="𠮷田　一郎", name_alternative="吉田　一郎", birth_date=FACTS.birth_date, sex="1",
                      address="x")
    person = identify(muni_a, facts, *card())
    assert ResidentLink.unscoped.filter(person=person).exists()


@pytest.mark.django_db
def test_staff_resolve_a_review_and_the_evidence_is_cleared(muni_a, admin_a):
    record = resident(muni_a, "1001", birth=dt.date(1975, 4, 2))
    person = identify(muni_a, FACTS, *card())
    review = LinkReview.unscoped.get(person=person)
    from madoguchi.municipalities.tenancy import tenant

    with tenant(muni_a):
        link = resolve_review(review, admin_a[0], record.pk)
        with pytest.raises(ReviewError, match="already resolved"):
            resolve_review(review, admin_a[0], None)
    review.refresh_from_db()
    assert link.method == "staff" and review.status == "linked" and review.evidence == {}
    assert AuditEvent.unscoped.filter(municipality=muni_a, action="identity.link_review_resolved").exists()


@pytest.mark.django_db
def test_a_review_cannot_link_another_municipalitys_record(muni_a, muni_b, admin_a):
    foreign = resident(muni_b, "9001")
    person = identify(muni_a, FACTS, *card())
    review = LinkReview.unscoped.get(person=person)
    from madoguchi.municipalities.tenancy import tenant

    with tenant(muni_a), pytest.raises(ReviewError, match="no such record"):
        resolve_review(review, admin_a[0], foreign.pk)
