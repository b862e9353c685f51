"""Accounts from card ceremonies: the Person, its card credentials, its resident links."""

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from madoguchi.audit.services import record
from madoguchi.municipalities.tenancy import tenant
from madoguchi.residents.models import ResidentRecord
from madoguchi.residents.names import search_key

from .models import CardCredential, LinkReview, Person, RefusedCertificate, ResidentLink, SubjectCredential


@dataclass(frozen=True)
class FourFacts:
    """The basic four facts (基本4情報) as the signature certificate holds them."""

    name: str
    birth_date: dt.date
    sex: str  # ISO 5218: 1, 2 or 9
    address: str
    name_alternative: str = ""  # the substitute-character form, when the certificate has one


@dataclass(frozen=True)
class CertificateRef:
    der: bytes
    sha256: str
    issuer_key_id: str
    serial: str
    not_after: dt.datetime

    @classmethod
    def from_der(cls, der: bytes) -> "CertificateRef":
        cert = x509.load_der_x509_certificate(der)
        try:
            aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        except x509.ExtensionNotFound:
            aki = None
        return cls(
            der=der,
            sha256=cert.fingerprint(hashes.SHA256()).hex(),
            issuer_key_id=aki.hex() if aki else f"name:{cert.issuer.rfc4514_string()}",
            serial=format(cert.serial_number, "x"),
            not_after=cert.not_valid_after_utc,
        )


@dataclass(frozen=True)
class SubjectRef:
    """A provider's subject: who the national authentication app says the resident is, for
    madoguchi's client (pairwise: another client gets another `sub`)."""

    issuer: str
    client_id: str
    subject: str
    token_type: str = ""


class CardRefused(Exception):
    """A certificate offered in a refused two-card `identify`: it signs in to nothing."""


def is_refused(*certs: CertificateRef) -> bool:
    return RefusedCertificate.objects.filter(sha256__in=[c.sha256 for c in certs]).exists()


def refuse_mixture(auth_cert: CertificateRef, sign_cert: CertificateRef, reason: str) -> None:
    """An `identify` whose two certificates cannot be one card's (both signatures verified):
    list both certificates, so neither signs in or links while listed — even one some
    earlier `identify` linked. Links nothing; audited with the reason only (runs in the
    caller's transaction and municipality)."""
    now = timezone.now()
    linked = CardCredential.objects.filter(sha256__in=[auth_cert.sha256, sign_cert.sha256]).count()
    ids = []
    for purpose, cert in ((CardCredential.Purpose.AUTHENTICATION, auth_cert),
                          (CardCredential.Purpose.SIGNATURE, sign_cert)):
        refused, created = RefusedCertificate.objects.get_or_create(
            sha256=cert.sha256, defaults={"purpose": purpose, "reason": reason, "refused_at": now})
        if not created:
            RefusedCertificate.objects.filter(pk=refused.pk).update(times=models.F("times") + 1)
        ids.append(refused.pk)
    record("identity.card_mixture_refused", actor=("anonymous", ""), obj=("identity.refusedcertificate", str(ids[0])),
           data={"reason": reason, "refused_certificates": ids, "already_linked": linked})


def release_card(sha256: str) -> bool:
    """The operator's release of a listed certificate (after checking the card at a window)."""
    with transaction.atomic():
        refused = RefusedCertificate.objects.filter(sha256=sha256).first()
        if refused is None:
            return False
        record("identity.card_released", actor=None, obj=refused, municipality=None,
               data={"purpose": refused.purpose, "reason": refused.reason})
        refused.delete()
    return True


def person_for_credential(cert: CertificateRef, *, mark_used: bool = True) -> Person | None:
    """The Person a certificate is linked to; None when unlinked or listed as refused.
    `mark_used=False`: a read without a PIN (the card's presence at a counter) is no sign-in
    and does not make this card the person's current one."""
    if is_refused(cert):
        return None
    try:
        credential = CardCredential.objects.select_related("person").get(sha256=cert.sha256)
    except CardCredential.DoesNotExist:
        return None
    if mark_used:
        CardCredential.objects.filter(pk=credential.pk).update(last_used_at=timezone.now())
    return credential.person


def certificate_for_card_key(key_hex: str) -> bytes | None:
    """The DER of the one linked authentication certificate whose card key (the first 8 bytes
    of its SHA-256, madoguchi.terminal.index.card_key) is `key_hex`; None when none or, by a
    64-bit collision, several are."""
    key = key_hex.lower()
    if len(key) != 16 or any(c not in "0123456789abcdef" for c in key):
        return None
    # A range on the unique index, not LIKE 'key%': neither PostgreSQL (outside the C locale)
    # nor SQLite uses an index for that LIKE, so it scanned every linked card.
    found = list(CardCredential.objects.filter(purpose="auth", sha256__gte=key, sha256__lt=key + "g")
                 .values_list("certificate", flat=True)[:2])
    return bytes(found[0]) if len(found) == 1 else None


def _matching_records(facts: FourFacts):
    keys = {k for k in (search_key(facts.name), search_key(facts.name_alternative)) if k}
    name_match = Q(name_key__in=keys) | Q(alternative_key__in=keys)
    return ResidentRecord.objects.filter(
        name_match, birth_date=facts.birth_date, sex=facts.sex,
        status__in=[ResidentRecord.Status.RESIDENT, ResidentRecord.Status.MOVED_OUT],
    )


def _link_credential(person: Person, purpose: str, cert: CertificateRef) -> None:
    existing = CardCredential.objects.filter(Q(sha256=cert.sha256) | Q(issuer_key_id=cert.issuer_key_id,
                                                                         serial=cert.serial)).first()
    if existing is not None:
        if existing.person_id != person.pk:
            raise ValueError("certificate already linked to another person")
        return
    CardCredential.objects.create(person=person, purpose=purpose, certificate=cert.der, sha256=cert.sha256,
                                  issuer_key_id=cert.issuer_key_id, serial=cert.serial, not_after=cert.not_after)


def person_for_subject(subject: SubjectRef) -> Person | None:
    """The Person a provider's subject is linked to (an earlier `identify` on that path)."""
    credential = SubjectCredential.objects.select_related("person").filter(
        issuer=subject.issuer, client_id=subject.client_id, subject=subject.subject).first()
    if credential is None:
        return None
    SubjectCredential.objects.filter(pk=credential.pk).update(last_used_at=timezone.now())
    return credential.person


def identify(municipality, facts: FourFacts, auth_cert: CertificateRef, sign_cert: CertificateRef) -> Person:
    """After an `identify` ceremony verified both signatures over one challenge.

    Finds the Person by either certificate; failing that, a renewed card is recognised
    through the resident record its facts match uniquely (already linked to a Person);
    failing that, a new Person. Then links both certificates and the resident record.
    """
    if is_refused(auth_cert, sign_cert):
        raise CardRefused("a certificate of this card was offered in a refused two-card identify")

    def link(person):
        _link_credential(person, CardCredential.Purpose.AUTHENTICATION, auth_cert)
        _link_credential(person, CardCredential.Purpose.SIGNATURE, sign_cert)

    return _identify(municipality, facts, person_for_credential(auth_cert) or person_for_credential(sign_cert),
                     link, method="card")


def identify_by_subject(municipality, facts: FourFacts, subject: SubjectRef) -> Person:
    """After an `identify` through the national authentication app: its ID token and
    userinfo verified, the basic four facts it released. The same as `identify` with the
    subject in place of the certificates: found by the subject, else through the resident
    record the facts match uniquely (a resident who identified with the card client before
    is the same Person), else a new Person; then the subject and the resident record are
    linked."""

    def link(person):
        existing = SubjectCredential.objects.filter(issuer=subject.issuer, client_id=subject.client_id,
                                                    subject=subject.subject).first()
        if existing is not None:
            if existing.person_id != person.pk:
                raise ValueError("subject already linked to another person")
            if existing.token_type != subject.token_type:
                SubjectCredential.objects.filter(pk=existing.pk).update(token_type=subject.token_type)
            return
        SubjectCredential.objects.create(person=person, issuer=subject.issuer, client_id=subject.client_id,
                                         subject=subject.subject, token_type=subject.token_type)

    return _identify(municipality, facts, person_for_subject(subject), link, method="national_app")


def _identify(municipality, facts: FourFacts, known: Person | None, link_credentials, *, method: str) -> Person:
    now = timezone.now()
    with tenant(municipality), transaction.atomic():
        person = known
        created = False
        if person is None:
            matches = list(_matching_records(facts)[:2])
            if len(matches) == 1:
                link = ResidentLink.objects.select_related("person").filter(record=matches[0]).first()
                person = link.person if link else None
        if person is None:
            person = Person(verified_at=now)
            created = True
        person.verified_name = facts.name
        person.verified_birth_date = facts.birth_date
        person.verified_sex = facts.sex
        person.verified_address = facts.address
        person.verified_at = now
        person.save()
        link_credentials(person)
        record("identity.identified", actor=("resident", str(person.public_id)), obj=person,
               data={"new_person": created, "method": method})
        link_resident_record(municipality, person, facts)
    return person


def link_resident_record(municipality, person: Person, facts: FourFacts):
    """A link on a unique match of birth date + sex + normalised name; otherwise a review."""
    with tenant(municipality), transaction.atomic():
        existing = ResidentLink.objects.filter(person=person).first()
        if existing is not None:
            return existing
        matches = list(_matching_records(facts)[:20])
        if len(matches) == 1 and not ResidentLink.objects.filter(record=matches[0]).exists():
            link = ResidentLink.objects.create(person=person, record=matches[0], method=ResidentLink.Method.AUTOMATIC)
            record("identity.resident_linked", actor=("resident", str(person.public_id)), obj=link,
                   data={"method": "automatic"})
            return link
        if not LinkReview.objects.filter(person=person, status=LinkReview.Status.OPEN).exists():
            review = LinkReview.objects.create(
                person=person,
                reason=LinkReview.Reason.SEVERAL_MATCHES if matches else LinkReview.Reason.NO_MATCH,
                candidate_ids=[m.pk for m in matches],
                evidence={"name": facts.name, "name_alternative": facts.name_alternative,
                          "birth_date": facts.birth_date.isoformat(), "sex": facts.sex, "address": facts.address},
            )
            record("identity.link_review_opened", actor=("resident", str(person.public_id)), obj=review,
                   data={"reason": review.reason, "candidates": len(matches)})
        return None


class ReviewError(Exception):
    pass


def resolve_review(review: LinkReview, staff_user, record_id: int | None) -> ResidentLink | None:
    """Staff choose the record (link) or reject (record_id None). Audited either way."""
    with transaction.atomic():
        review = LinkReview.objects.select_for_update().get(pk=review.pk)
        if review.status != LinkReview.Status.OPEN:
            raise ReviewError("already resolved")
        link = None
        if record_id is not None:
            target = ResidentRecord.objects.filter(pk=record_id).first()
            if target is None:
                raise ReviewError("no such record in this municipality")
            if ResidentLink.objects.filter(record=target).exists():
                raise ReviewError("the record is already linked to someone")
            if ResidentLink.objects.filter(person=review.person).exists():
                raise ReviewError("the person is already linked")
            link = ResidentLink.objects.create(person=review.person, record=target, method=ResidentLink.Method.STAFF,
                                               linked_by=staff_user)
            review.status = LinkReview.Status.LINKED
        else:
            review.status = LinkReview.Status.REJECTED
        review.resolved_at = timezone.now()
        review.resolved_by = staff_user
        review.evidence = {}
        review.save()
        record("identity.link_review_resolved", actor=staff_user, obj=review,
               data={"outcome": review.status, "record": record_id})
    return link


def card_credentials_of(person: Person):
    """The person's card credentials, newest first (the account page lists them)."""
    return CardCredential.objects.filter(person=person).order_by("-linked_at")


def resident_link_of(person: Person, *, municipality_id: int | None = None) -> ResidentLink | None:
    """The person's link to a 住民記録 in the municipality in scope (or, for a row being
    written whatever the scope, in `municipality_id`), with the record, or None."""
    if municipality_id is not None:
        links = ResidentLink.unscoped.filter(municipality_id=municipality_id)
    else:
        links = ResidentLink.objects
    return links.select_related("record").filter(person_id=person.pk).first()


def resident_number_of(person_id: int) -> str | None:
    """The 宛名番号 of the resident record the person is linked to in the municipality in
    scope, or None (receiving_accounts.reading finds an imported account by it)."""
    return (ResidentLink.objects.filter(person_id=person_id).values_list("record__resident_number", flat=True)
            .first())


def under_support_measure(person: Person) -> bool:
    """支援措置 (DV, stalking, abuse): whether any resident record linked to the person, in
    any municipality, carries it (oidc then withholds the address from relying parties)."""
    return ResidentLink.unscoped.filter(person=person, record__support_measure=True).exists()


def linked_person_ids(*, address_prefix: str = "", born_on_or_before=None, born_after=None) -> list[int]:
    """The persons linked to a current (住民) resident record of the municipality in scope,
    optionally only those whose registered address starts with `address_prefix` (a 町丁目)
    and whose recorded birth date is within the bounds: the segments of a broadcast (notices)."""
    links = ResidentLink.objects.filter(record__status=ResidentRecord.Status.RESIDENT)
    if address_prefix:
        links = links.filter(record__address__startswith=address_prefix)
    if born_on_or_before is not None:
        links = links.filter(record__birth_date__lte=born_on_or_before)
    if born_after is not None:
        links = links.filter(record__birth_date__gt=born_after)
    return sorted(set(links.values_list("person_id", flat=True)))


def guardian_person_ids(*, child_born_after) -> list[int]:
    """The persons linked to a current resident record in a household (世帯) that has a
    current member born after `child_born_after` — the household's members who are not
    themselves such children (a broadcast to households with children reaches the adults)."""
    households = (ResidentRecord.objects.filter(status=ResidentRecord.Status.RESIDENT,
                                                birth_date__gt=child_born_after)
                  .exclude(household_id="").values("household_id"))
    links = ResidentLink.objects.filter(record__status=ResidentRecord.Status.RESIDENT,
                                        record__household_id__in=households,
                                        record__birth_date__lte=child_born_after)
    return sorted(set(links.values_list("person_id", flat=True)))


def person_ids_by_resident_number(resident_numbers) -> dict[str, int]:
    """The persons linked to these 宛名番号 in the municipality in scope (benefits tells its
    payees through their accounts); numbers nobody has linked are absent."""
    numbers, found = list(resident_numbers), {}
    for start in range(0, len(numbers), 5000):
        found.update(ResidentLink.objects.filter(record__resident_number__in=numbers[start:start + 5000])
                     .values_list("record__resident_number", "person_id"))
    return found


def carry_person_on_move(origin_municipality_id: int, origin_resident_number: str, destination, record_id: int,
                         staff_user=None) -> int | None:
    """A 転入 keeps the resident's account: the Person linked to their record at the origin (a
    municipality of this deployment) is linked to their new record at the destination, so
    their card keeps working and the OIDC pairwise subjects (derived from the Person) do not
    change. Returns the Person's id, or None when the origin knew no account for the record
    (they link at their first sign-in)."""
    link = (ResidentLink.unscoped.select_related("person")
            .filter(municipality_id=origin_municipality_id, record__resident_number=origin_resident_number).first())
    if link is None:
        return None
    with tenant(destination), transaction.atomic():
        if ResidentLink.objects.filter(person=link.person).exists():
            return None
        new = ResidentLink.objects.create(municipality=destination, person=link.person, record_id=record_id,
                                          method=ResidentLink.Method.STAFF, linked_by=staff_user)
        record("identity.resident_linked", obj=new, data={"method": "move_in"})
        # A sign-in here before the 転入 (to book the visit) found no record and opened a review:
        # the move answers it.
        for review in LinkReview.objects.filter(person=link.person, status=LinkReview.Status.OPEN):
            review.status, review.resolved_at, review.resolved_by, review.evidence = (
                LinkReview.Status.LINKED, timezone.now(), staff_user, {})
            review.save()
            record("identity.link_review_resolved", actor=staff_user, obj=review,
                   data={"outcome": review.status, "record": record_id})
    return link.person_id


def person_for_counter(municipality, record_id: int, facts: FourFacts, staff_user) -> Person:
    """The Person of a resident served at the counter (書かない窓口): the one already linked
    to the resident record that the card read matched (by name + birth date + sex, checked by
    the caller), else a new Person with the card's verified facts, linked to that record by
    the member of staff who checked the card and the face photo (method `staff`)."""
    with tenant(municipality), transaction.atomic():
        link = ResidentLink.objects.select_related("person").filter(record_id=record_id).first()
        if link is not None:
            return link.person
        now = timezone.now()
        person = Person.objects.create(verified_name=facts.name, verified_birth_date=facts.birth_date,
                                       verified_sex=facts.sex, verified_address=facts.address, verified_at=now)
        link = ResidentLink.objects.create(person=person, record_id=record_id, method=ResidentLink.Method.STAFF,
                                           linked_by=staff_user)
        record("identity.resident_linked", actor=staff_user, obj=link, data={"method": "counter"})
        return person
