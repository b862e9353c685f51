"""Push-type payment and payment runs: opening a program writes its payees (push with a
registered account, else a 確認書), the resident declines in the window, paper 確認書 once per
payee, a run with four eyes and a deterministic Zengin file whose SHA-256 is audited, the
bank's result file marking payments paid or failed, a failed payee joining a later run once
their account changed. Bad input refused with the field named, nothing half-written."""

import datetime as dt
import hashlib

import pytest
from django.db import IntegrityError, transaction

from madoguchi import zengin
from madoguchi.audit.models import AuditEvent
from madoguchi.benefits import payouts, runs, services
from madoguchi.benefits.models import Beneficiary, Confirmation, Payment, PaymentRun, Program
from madoguchi.identity.models import Person
from madoguchi.municipalities.tenancy import tenant
from madoguchi.receiving_accounts.models import ReceivingAccount
from madoguchi.residents.models import ResidentRecord
from madoguchi.staff.models import Membership
from madoguchi.staff.services import enrol_staff
from tests.benefits.test_eligibility import person

DAY = dt.date(2026, 12, 1)
TODAY = dt.date(2026, 12, 4)
PAY_DAY = dt.date(2026, 12, 22)  # a Tuesday
PAYER = {"payer_code": "0000012345", "payer_name": "マドグチシ", "payer_bank_code": "0001",
         "payer_branch_code": "001", "payer_account_type": "1", "payer_account_number": "1234567"}
ACCOUNT = {"bank": "0005", "branch": "001", "account_type": "1", "account_number": "0000777",
           "holder_kana": "キュウフ ハナコ"}


def account(municipality, number, digits, holder="キユウフ タロウ", status="active"):
    return ReceivingAccount.unscoped.create(
        municipality=municipality, resident_number=number, bank_code="0001", bank_name="みずほ", bank_kana="ﾐｽﾞﾎ",
        branch_code="001", branch_name="東京営業部", branch_kana="ﾄｳｷﾖｳ", account_type=1, account_number=digits,
        holder_kana=zengin.to_zengin_kana(holder), source="national", status=status, name_check="match")


@pytest.fixture
def city(muni_a, muni_b):
    """H1: head 1 with a registered account, child 2. H2: head 3 without one. H3: moved out
    before the reference date (no payee at all). H4: head 5 with an account (declines)."""
    person(muni_a, "1", dt.date(1980, 1, 1), "H1", is_household_head=True)
    person(muni_a, "2", dt.date(2015, 1, 1), "H1")
    person(muni_a, "3", dt.date(1970, 1, 1), "H2", is_household_head=True)
    person(muni_a, "4", dt.date(1960, 1, 1), "H3", is_household_head=True, status="moved_out",
           left_on=dt.date(2026, 11, 20))
    person(muni_a, "5", dt.date(1990, 1, 1), "H4", is_household_head=True)
    person(muni_b, "1", dt.date(1980, 1, 1), "H1", is_household_head=True)
    account(muni_a, "1", "0000001")
    account(muni_a, "5", "0000005")
    account(muni_a, "4", "0000004")  # moved out: never paid, account or not
    return muni_a


@pytest.fixture
def second_admin(muni_a, dept_a):
    user, *_ = enrol_staff(muni_a, "benefits-approver", Membership.Role.ADMINISTRATOR, dept_a, password="x" * 20)
    return user


def opened(city, user):
    with tenant(city):
        program = services.create(user, name="物価高騰対応給付金", legal_basis="要綱", reference_date=DAY,
                                   unit="household", amount_yen=30000)
        summary = payouts.open_program(program, user, decline_days=7, today=TODAY)
    return program, summary


def rows(city, program):
    with tenant(city):
        return {b.resident_number: b for b in Beneficiary.objects.filter(program=program)}


def test_opening_writes_each_payee_once_with_their_route(city, admin_a):
    program, summary = opened(city, admin_a[0])
    assert summary == {"payees": 3, "push": 2, "confirmation": 1, "total_yen": 90000, "decline_until": "2026-12-11"}
    payees = rows(city, program)
    assert set(payees) == {"1", "3", "5"}  # H3 moved out before the reference date: not paid
    assert (payees["1"].route, payees["1"].status, payees["1"].decline_until) == ("push", "scheduled", dt.date(2026, 12, 11))
    assert (payees["3"].route, payees["3"].status) == ("confirmation", "awaiting")
    with tenant(city):
        assert Program.objects.get(pk=program.pk).status == "open"
        assert AuditEvent.objects.filter(action="benefits.program_opened").count() == 1
        with pytest.raises(payouts.PayoutError):  # once per program
            payouts.open_program(Program.objects.get(pk=program.pk), admin_a[0], today=TODAY)
        with pytest.raises(payouts.PayoutError) as bad:
            payouts.open_program(services.create(admin_a[0], name="二つ目", legal_basis="要綱", reference_date=DAY,
                                                 unit="person", amount_yen=1), admin_a[0], decline_days=0)
        assert bad.value.field == "decline_days"
    # The database refuses a second row for a payee, whatever the code does.
    with tenant(city), pytest.raises(IntegrityError), transaction.atomic():
        Beneficiary.objects.create(municipality=city, program=program, resident_number="1", name="x", amount_yen=1,
                                   route="push", status="ready")


def test_the_resident_declines_in_the_window_only(city, admin_a):
    program, _ = opened(city, admin_a[0])
    me, other = (Person.objects.create(verified_name="給付　五郎", verified_birth_date=dt.date(1990, 1, 1),
                                       verified_sex="1", verified_address="窓口市", verified_at=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc))
                 for _ in range(2))
    from madoguchi.identity.models import ResidentLink

    with tenant(city):
        ResidentLink.objects.create(municipality=city, person=me, method="automatic",
                                    record=ResidentRecord.objects.get(resident_number="5"))
        ResidentLink.objects.create(municipality=city, person=other, method="automatic",
                                    record=ResidentRecord.objects.get(resident_number="1"))
        mine = Beneficiary.objects.get(program=program, resident_number="5")
        assert [b.pk for b in payouts.of_person(me)] == [mine.pk]
        with pytest.raises(payouts.PayoutError) as late:
            payouts.decline(me, mine.pk, today=dt.date(2026, 12, 12))
        assert late.value.status == 409
        with pytest.raises(payouts.PayoutError) as not_theirs:
            payouts.decline(other, mine.pk, today=TODAY)
        assert not_theirs.value.status == 404
        payouts.decline(me, mine.pk, today=dt.date(2026, 12, 11))
        assert Beneficiary.objects.get(pk=mine.pk).status == "declined"
        with pytest.raises(payouts.PayoutError):
            payouts.decline(me, mine.pk, today=TODAY)


def test_a_paper_confirmation_once_per_payee_and_bad_accounts_named(city, admin_a):
    program, _ = opened(city, admin_a[0])
    user = admin_a[0]
    with tenant(city):
        for number, form, field in (("9", ACCOUNT, "resident_number"),  # not a payee
                                    ("4", ACCOUNT, "resident_number"),  # moved out before the reference date
                                    ("3", {**ACCOUNT, "bank": "9876"}, "bank"),
                                    ("3", {**ACCOUNT, "account_number": "12"}, "account_number"),
                                    ("3", {**ACCOUNT, "holder_kana": "漢字"}, "holder_kana"),
                                    ("", ACCOUNT, "resident_number")):
            with pytest.raises(payouts.PayoutError) as refused:
                payouts.confirm_on_paper(user, program, number, form)
            assert refused.value.field == field, (number, str(refused.value))
        assert not Confirmation.objects.exists()
        payouts.confirm_on_paper(user, program, "3", ACCOUNT)
        assert Beneficiary.objects.get(program=program, resident_number="3").status == "ready"
        with pytest.raises(payouts.PayoutError) as twice:
            payouts.confirm_on_paper(user, program, "3", ACCOUNT)
        assert twice.value.status == 409
        assert Confirmation.objects.count() == 1
        # The constraint itself: online and paper share the table.
        with pytest.raises(IntegrityError), transaction.atomic():
            Confirmation.objects.create(municipality=city, program=program, resident_number="3", channel="online",
                                        bank_code="0005", bank_name="x", branch_code="001", branch_name="x",
                                        account_type=1, account_number="0000001", holder_kana="ｱ")


def build(city, program, user, day=PAY_DAY, today=dt.date(2026, 12, 12), **payer):
    with tenant(city):
        return runs.build(user, program, day, {**PAYER, **payer}, today=today)


def bank_answers(city, run, failing: set[str]) -> bytes:
    """The bank: every transfer of the run's file, paid except the accounts in `failing`."""
    with tenant(city):
        sent = zengin.read_transfers(runs.released_file(PaymentRun.objects.get(pk=run.pk)))
    group = sent.groups[0]
    return zengin.write_results(group.header, [(t, "2" if t.account_number in failing else "0")
                                               for t in group.transfers])


def test_a_run_four_eyes_deterministic_file_and_the_bank_results(city, admin_a, second_admin):
    builder = admin_a[0]
    program, _ = opened(city, builder)
    with tenant(city):
        payouts.confirm_on_paper(builder, program, "3", ACCOUNT)
    # Before the window closes only the 確認書 payee is ready; after it, the push payees too.
    early = build(city, program, builder, today=dt.date(2026, 12, 8))
    assert (early.count, early.total_yen) == (1, 30000)
    with tenant(city):
        runs.cancel(builder, early)
    run = build(city, program, builder)
    assert (run.count, run.total_yen) == (3, 90000)
    with tenant(city):
        assert [(b["bank_code"], b["count"], b["total"]) for b in runs.by_bank(run)] == [("0001", 2, 60000),
                                                                                         ("0005", 1, 30000)]
        with pytest.raises(payouts.PayoutError) as own:
            runs.approve(builder, run)
        assert own.value.status == 403
        with pytest.raises(payouts.PayoutError):  # no file before approval
            runs.released_file(run)
        runs.approve(second_admin, run)
        run = PaymentRun.objects.get(pk=run.pk)
        data = runs.released_file(run)
        assert data == runs.transfer_file(run)  # the same bytes every time
        assert hashlib.sha256(data).hexdigest() == run.file_sha256
        event = AuditEvent.objects.get(action="benefits.run_released")
        assert event.data["sha256"] == run.file_sha256
        parsed = zengin.read_transfers(data)
        assert parsed.total == 90000 and len(parsed.groups[0].transfers) == 3
        assert parsed.groups[0].header.payer_code == "0000012345"
        with pytest.raises(payouts.PayoutError):  # released: cannot change
            runs.cancel(builder, run)
        with pytest.raises(payouts.PayoutError):
            runs.approve(second_admin, run)

    answer = bank_answers(city, run, failing={"0000005"})
    # A file whose trailer does not add up, and one for another run's transfers: refused whole.
    broken = answer.replace(b"\r\n8", b"\r\n8", 1)
    trailer_at = answer.index(b"\r\n8") + 2
    broken = answer[:trailer_at + 7] + b"999999999999" + answer[trailer_at + 19:]
    with tenant(city):
        with pytest.raises(payouts.PayoutError) as bad:
            runs.import_results(builder, run, broken)
        assert bad.value.field == "file"
        assert not Payment.objects.filter(run=run).exclude(status="pending").exists()
        outcome = runs.import_results(builder, run, answer)
        assert (outcome["paid"], outcome["failed"]) == (2, 1)
        payees = {b.resident_number: b for b in Beneficiary.objects.filter(program=program)}
        assert payees["5"].status == "failed" and payees["5"].failure_reason
        assert payees["1"].status == "paid" and payees["3"].status == "paid"
        with pytest.raises(payouts.PayoutError) as again:
            runs.import_results(builder, run, answer)
        assert again.value.status == 409

        # The failed payee joins a later run only once their account changed.
        with pytest.raises(payouts.PayoutError):
            build(city, program, builder)
        ReceivingAccount.objects.filter(resident_number="5").update(account_number="0000055")
    later = build(city, program, builder)
    assert later.count == 1
    with tenant(city):
        assert Payment.objects.get(run=later).account_number == "0000055"
        # Never two live payments for one payee (the failed one does not count).
        paid = Payment.objects.filter(beneficiary__resident_number="1", status="paid").get()
        with pytest.raises(IntegrityError), transaction.atomic():
            Payment.objects.create(municipality=city, run=later, beneficiary=paid.beneficiary, amount_yen=1,
                                   bank_code="0001", bank_kana="ﾐｽﾞﾎ", branch_code="001", branch_kana="ﾄｳｷﾖｳ",
                                   account_type=1, account_number="0000001", holder_kana="ｱ")


def test_bad_run_input_names_the_field(city, admin_a):
    program, _ = opened(city, admin_a[0])
    user = admin_a[0]
    for day, payer, field in ((dt.date(2026, 12, 12), {}, "payment_date"),  # not after today
                              (dt.date(2026, 12, 19), {}, "payment_date"),  # a Saturday
                              (PAY_DAY, {"payer_code": "12"}, "payer_code"),
                              (PAY_DAY, {"payer_bank_code": "9876"}, "payer_bank_code"),
                              (PAY_DAY, {"payer_name": "窓口市"}, "payer_name"),
                              (PAY_DAY, {"payer_account_type": "7"}, "payer_account_type")):
        with pytest.raises(payouts.PayoutError) as refused:
            build(city, program, user, day=day, **payer)
        assert refused.value.field == field
    with tenant(city):
        assert not PaymentRun.objects.exists()
