"""The online 確認書: a catalog procedure signed with the card; when staff accept it the payee
is ready to pay into the account it carries. One that names no open benefit, comes from
someone who is not a payee or arrives after a paper one refuses the approval with the reason
(the back office shows it), and nothing of the approval is kept."""

import datetime as dt

import pytest

from madoguchi.applications.services import submit, transition
from madoguchi.applications.transitions import ListenerRefused
from madoguchi.benefits import payouts, services
from madoguchi.benefits.models import Beneficiary, Confirmation
from madoguchi.casework import services as casework
from madoguchi.municipalities.tenancy import tenant
from madoguchi.staff.models import Department, Membership
from madoguchi.staff.services import enrol_staff
from tests.applications.conftest import app_settings, catalog_a, taro, version_of  # noqa: F401  (fixtures)
from tests.applications.helpers import key, sign
from tests.ceremonies.conftest import dev_pki, pki  # noqa: F401  (fixtures)

FORM = {"applicant_name": "窓口　太郎", "program": "物価高騰対応給付金", "bank_code": "0005", "branch_code": "001",
        "account_type": "1", "account_number": "0000777", "holder_kana": "マドグチ タロウ"}


@pytest.fixture
def reviewer(catalog_a):
    department = Department.unscoped.create(municipality=catalog_a, code="fukushi", name="福祉課")
    user, membership, *_ = enrol_staff(catalog_a, "rev-fukushi", Membership.Role.REVIEWER, department,
                                       password="x" * 20)
    return user, membership


def opened(municipality, user):
    with tenant(municipality):
        program = services.create(user, name="物価高騰対応給付金", legal_basis="要綱", reference_date=dt.date(2000, 1, 1),
                                  unit="household", amount_yen=30000)
        payouts.open_program(program, user)
    return program


def filed(catalog_a, pki, taro, data, reviewer):
    version = version_of(catalog_a, payouts.CONFIRMATION_PROCEDURE)
    application, _ = submit(version, taro, data, idempotency_key=key(), signed=sign(pki.taro, version, taro, data))
    transition(application, "received", role="reviewer", actor=reviewer)
    return application


def test_an_accepted_online_confirmation_makes_the_payee_ready(catalog_a, pki, taro, reviewer):
    user, membership = reviewer
    program = opened(catalog_a, user)
    with tenant(catalog_a):
        assert Beneficiary.objects.get(program=program).status == "awaiting"  # taro: no account registered
    application = filed(catalog_a, pki, taro, FORM, user)
    casework.decide(membership, user, application, "approved")
    with tenant(catalog_a):
        confirmation = Confirmation.objects.get(program=program)
        assert (confirmation.channel, confirmation.application_id) == ("online", str(application.public_id))
        assert (confirmation.bank_code, confirmation.account_number, confirmation.holder_kana) == ("0005", "0000777",
                                                                                                  "ﾏﾄﾞｸﾞﾁ ﾀﾛｳ")
        assert Beneficiary.objects.get(program=program).status == "ready"
        # A paper one after it is refused: the household is paid once.
        with pytest.raises(payouts.PayoutError) as twice:
            payouts.confirm_on_paper(user, program, "100001", {"bank": "0001", "branch": "001", "account_type": "1",
                                                               "account_number": "0000001", "holder_kana": "ﾀﾛｳ"})
        assert twice.value.status == 409


def test_a_confirmation_that_cannot_be_taken_refuses_the_approval(catalog_a, pki, taro, reviewer):
    user, membership = reviewer
    program = opened(catalog_a, user)
    application = filed(catalog_a, pki, taro, {**FORM, "program": "ない給付金"}, user)
    with pytest.raises(casework.CaseworkError) as refused:
        casework.decide(membership, user, application, "approved")
    assert "ない給付金" in str(refused.value) and refused.value.status == 409
    with tenant(catalog_a):
        application.refresh_from_db()
        assert application.status == "received"  # the approval rolled back
        assert not Confirmation.objects.exists()
    transition(application, "rejected", role="reviewer", actor=user, comment="給付金の名前が違います")
    # The bank code checks against the bank master, not just its four digits.
    other = filed(catalog_a, pki, taro, {**FORM, "bank_code": "9876"}, user)
    with pytest.raises(ListenerRefused) as unknown:
        transition(other, "approved", role="reviewer", actor=user)
    assert "9876" in str(unknown.value)
    with tenant(catalog_a):
        assert Beneficiary.objects.get(program=program).status == "awaiting"
