"""A town-sized benefit end to end in the database: 20,000 payees opened, put in a run,
approved, written as one Zengin file and settled with one failure. Every step reads payees
through subqueries or in chunks, never one IN list of them: such a list grows with the city
(SQLite refuses a statement of more than 250,000 parameters, and PostgreSQL plans a huge one
slowly), so a per-person benefit of a city of 400,000 would have failed at 支給を始める."""

import datetime as dt

from madoguchi import zengin
from madoguchi.benefits import payouts, runs, services
from madoguchi.benefits.models import Beneficiary, Payment
from madoguchi.municipalities.tenancy import tenant
from madoguchi.receiving_accounts.models import ReceivingAccount
from madoguchi.residents.models import ResidentRecord
from madoguchi.staff.models import Membership
from madoguchi.staff.services import enrol_staff

PAYEES = 20_000
PAYER = {"payer_code": "0000012345", "payer_name": "マドグチシ", "payer_bank_code": "0001",
         "payer_branch_code": "001", "payer_account_type": "1", "payer_account_number": "1234567"}


def test_a_benefit_for_twenty_thousand_payees(muni_a, admin_a):
    user = admin_a[0]
    approver, *_ = enrol_staff(muni_a, "scale-approver", Membership.Role.ADMINISTRATOR, None, password="x" * 20)
    ResidentRecord.unscoped.bulk_create([
        ResidentRecord(municipality=muni_a, resident_number=f"{n:08d}", name=f"給付　{n}", name_key=f"k{n}",
                       birth_date=dt.date(1980, 1, 1), sex="1", address="東京都窓口市本町一丁目",
                       household_id=f"H{n}", is_household_head=True)
        for n in range(PAYEES)], batch_size=5000)
    ReceivingAccount.unscoped.bulk_create([
        ReceivingAccount(municipality=muni_a, resident_number=f"{n:08d}", bank_code="0001", bank_name="みずほ",
                         bank_kana="ﾐｽﾞﾎ", branch_code="001", branch_name="東京営業部", branch_kana="ﾄｳｷﾖｳ",
                         account_type=1, account_number=f"{n:07d}", holder_kana="ｷﾕｳﾌ", source="national",
                         status="active", name_check="match")
        for n in range(PAYEES)], batch_size=5000)
    today = dt.date(2026, 12, 1)
    with tenant(muni_a):
        program = services.create(user, name="物価高騰対応給付金", legal_basis="要綱", reference_date=today,
                                  unit="household", amount_yen=10000)
        summary = payouts.open_program(program, user, decline_days=1, today=today)
        assert summary["payees"] == summary["push"] == PAYEES
        run = runs.build(user, program, dt.date(2026, 12, 8), PAYER, today=dt.date(2026, 12, 3))
        assert (run.count, run.total_yen) == (PAYEES, PAYEES * 10000)
        assert Beneficiary.objects.filter(program=program, status="in_run").count() == PAYEES
        run = runs.approve(approver, run)
        data = runs.released_file(run)
        sent = zengin.read_transfers(data).groups[0]
        answer = zengin.write_results(sent.header, [(t, "1" if t.account_number == "0000007" else "0")
                                                    for t in sent.transfers])
        outcome = runs.import_results(user, run, answer)
        assert (outcome["paid"], outcome["failed"]) == (PAYEES - 1, 1)
        assert Beneficiary.objects.filter(program=program, status="paid").count() == PAYEES - 1
        assert Payment.objects.get(run=run, status="failed").account_number == "0000007"
