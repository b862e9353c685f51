"""Eligibility over the resident register on the reference date, rule by rule: who moved in
after it or left before it is out, the legal age, flags excluded whole, households with a
child; units per person, household or child; bad programs refused naming the field."""

import datetime as dt

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.benefits import services
from madoguchi.municipalities.tenancy import tenant
from madoguchi.residents.models import ResidentRecord

DAY = dt.date(2026, 12, 1)


def person(municipality, number, birth, household, **extra):
    return ResidentRecord.unscoped.create(municipality=municipality, resident_number=number, name=f"給付　{number}",
                                          birth_date=birth, sex="1", address="東京都窓口市本町一丁目",
                                          household_id=household, **extra)


@pytest.fixture
def register(muni_a, muni_b):
    person(muni_a, "1", dt.date(1980, 1, 1), "H1", is_household_head=True)
    person(muni_a, "2", dt.date(2015, 12, 2), "H1")  # turns 11 on 2026-12-01 (legal age: the day before)
    person(muni_a, "3", dt.date(1990, 5, 5), "H2", is_household_head=True, flags=" 非課税 ")
    person(muni_a, "4", dt.date(1990, 5, 5), "H3", is_household_head=True, flags=" 非課税世帯外 ")
    person(muni_a, "5", dt.date(1985, 1, 1), "H4", resident_since=dt.date(2026, 12, 2))  # moved in after
    person(muni_a, "6", dt.date(1985, 1, 1), "H5", status="moved_out", left_on=dt.date(2026, 11, 30))  # left before
    person(muni_a, "7", dt.date(1985, 1, 1), "H6", status="moved_out", left_on=dt.date(2026, 12, 1))  # left on the day
    person(muni_a, "8", dt.date(2024, 1, 1), "H3")  # a small child in H3
    person(muni_b, "1", dt.date(1980, 1, 1), "H1")  # another municipality: never counted
    return muni_a


def program(municipality, user, **fields):
    with tenant(municipality):
        return services.create(user, **{"name": "物価高騰対応給付金", "legal_basis": "窓口市物価高騰対応給付金支給要綱",
                                        "reference_date": DAY, "unit": "person", "amount_yen": 30000, **fields})


def counts(municipality, p):
    with tenant(municipality):
        return services.dry_run(p)


def test_residents_on_the_reference_date_and_the_units(register, admin_a):
    user = admin_a[0]
    everyone = counts(register, program(register, user))
    assert everyone.steps == [("基準日（2026-12-01）に住民", 6)] and everyone.units == 6 and everyone.total_yen == 180000
    households = counts(register, program(register, user, name="世帯", unit="household", amount_yen=50000))
    assert households.units == 4 and households.total_yen == 200000  # H1, H2, H3, H6
    with tenant(register):
        assert AuditEvent.objects.filter(action="benefits.program_created").count() == 2


def test_age_flags_and_children_rule_by_rule(register, admin_a):
    user = admin_a[0]
    adults = counts(register, program(register, user, name="大人", age_min=18, excluded_flags="非課税"))
    assert [n for _label, n in adults.steps] == [6, 4, 3]  # residents, 18 and over, without 非課税 (whole word)
    assert "区分「非課税」を除く" in adults.steps[2][0]
    eleven = counts(register, program(register, user, name="11歳", age_min=11, age_max=11))
    assert eleven.units == 1  # born 2015-12-02: 11 on 2026-12-01 by the law's reckoning
    children = counts(register, program(register, user, name="子ども", unit="child", child_under_age=18,
                                        amount_yen=20000))
    assert children.steps[-1] == ("18歳未満の子どもがいる世帯", 4)  # H1 (2 people) and H3 (2 people)
    assert children.units == 2 and children.total_yen == 40000  # the two children


@pytest.mark.parametrize("fields, field", [
    ({"name": ""}, "name"), ({"name": "x" * 101}, "name"), ({"legal_basis": "改\n行"}, "legal_basis"),
    ({"reference_date": "2026-12-01"}, "reference_date"), ({"unit": "dog"}, "unit"), ({"amount_yen": 0}, "amount_yen"),
    ({"amount_yen": 10_000_001}, "amount_yen"), ({"age_min": 20, "age_max": 10}, "age_max"), ({"age_min": 200}, "age_min"),
    ({"unit": "child"}, "child_under_age"), ({"excluded_flags": " ".join("abcdefghijk")}, "excluded_flags"),
])
def test_a_bad_program_is_refused_naming_the_field(register, admin_a, fields, field):
    with pytest.raises(services.ProgramError) as refused:
        program(register, admin_a[0], **fields)
    assert refused.value.field == field
    with tenant(register):
        from madoguchi.benefits.models import Program

        assert not Program.objects.exists()


def test_the_same_name_twice_is_refused(register, admin_a):
    program(register, admin_a[0])
    with pytest.raises(services.ProgramError) as refused:
        program(register, admin_a[0])
    assert refused.value.field == "name"


def test_the_back_office_pages_create_and_count(client, register, admin_a, viewer_a, admin_b, muni_b):
    from tests.conftest import sign_in

    assert sign_in(client, register, *admin_a).status_code == 302
    base = f"/{register.code}/staff/benefits/"
    assert "給付事業" in client.get(f"/{register.code}/staff/").content.decode()
    bad = client.post(base, {"name": "", "legal_basis": "要綱", "reference_date": "12/1", "unit": "person",
                             "amount_yen": "0"})
    body = bad.content.decode()
    assert bad.status_code == 400 and "事業名: 事業名を入力してください。" in body and '<a href="#id_reference_date">' in body
    response = client.post(base, {"name": "子育て世帯臨時給付金", "legal_basis": "窓口市子育て世帯臨時給付金支給要綱",
                                  "reference_date": "2026-12-01", "unit": "child", "amount_yen": "20000",
                                  "child_under_age": "18"})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "18歳未満の子どもがいる世帯" in page and "支給の見込み: 2件（子ども1人あたり）、合計 40,000円" in page
    assert "令和8年12月1日" in page and "公金受取口座が使える（支給予定通知で支給できる）" in page
    viewer = client.__class__()
    assert sign_in(viewer, register, *viewer_a).status_code == 302
    assert viewer.get(base).status_code == 403 and viewer.get(response["Location"]).status_code == 403
    other = client.__class__()  # another municipality's administrator
    assert sign_in(other, muni_b, *admin_b).status_code == 302
    assert other.get(response["Location"]).status_code in (302, 403, 404)
    assert other.get(f"/{muni_b.code}/staff/benefits/{response['Location'].rstrip('/').rsplit('/', 1)[1]}/").status_code == 404


def test_the_dry_run_counts_payees_with_a_usable_public_money_account(register, admin_a):
    from madoguchi.receiving_accounts.models import ReceivingAccount

    def account(number, status):
        ReceivingAccount.unscoped.create(
            municipality=register, resident_number=number, bank_code="0001", bank_name="みずほ銀行",
            bank_kana="ﾐｽﾞﾎ", branch_code="001", branch_name="東京営業部", branch_kana="ﾄｳｷﾖｳ", account_type=1,
            account_number=f"{int(number):07d}", holder_kana="ｷﾕｳﾌ", source="national", status=status,
            name_check="match")

    account("1", "active")  # head of H1
    account("2", "active")  # a child of H1: not the payee of a household benefit
    account("3", "held")  # held for staff: not usable
    per_person = counts(register, program(register, admin_a[0]))
    assert (per_person.payees, per_person.payees_with_account, per_person.payees_without_account) == (6, 2, 4)
    households = counts(register, program(register, admin_a[0], name="世帯", unit="household"))
    assert (households.payees, households.payees_with_account) == (4, 1)  # H1's head only
