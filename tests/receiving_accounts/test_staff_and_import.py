"""The national registry's extract (all or nothing), staff review of held accounts, the
定期点検 report, the database's one-account rules and the append-only history."""

import os
import subprocess
import sys

import pytest
from django.db import IntegrityError, transaction

from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.receiving_accounts import reading, services
from madoguchi.receiving_accounts.adapters.base import open_source
from madoguchi.receiving_accounts.models import AccountChange, ReceivingAccount
from madoguchi.residents.models import ResidentRecord
from tests.conftest import sign_in

HEADER = "resident_number,bank_code,branch_code,account_type,account_number,holder_kana\n"


def records(municipality):
    with tenant(municipality):
        for number, kana, status in [("200001", "やまだ たろう", "resident"), ("200002", "やまだ はなこ", "resident"),
                                     ("200003", "すずき いちろう", "moved_out"), ("200004", "", "resident")]:
            ResidentRecord.objects.create(resident_number=number, name="住民", name_kana=kana,
                                          birth_date="1980-01-01", sex="1", address="窓口市", status=status)


def extract(tmp_path, body, name="extract.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding=encoding)
    return path


def test_import_then_report(tmp_path, muni_a, admin_a):
    records(muni_a)
    path = extract(tmp_path, "200001,0001,001,1,1111111,ﾔﾏﾀﾞ ﾀﾛｳ\n"
                             "200002,0001,001,1,1111111,ヤマダ　タロウ\n"   # Taro's account under Hanako: held, shared
                             "200003,9900,018,1,2222222,スズキ イチロウ\n"  # moved out
                             "200004,0005,001,2,3333333,サトウ ジロウ\n")   # no kana on the record: held
    report = services.import_extract(muni_a, open_source("csv", str(path)))
    assert (report.created, report.changed, report.held) == (4, 0, 2)
    with tenant(muni_a):
        statuses = dict(ReceivingAccount.objects.values_list("resident_number", "status"))
        assert statuses == {"200001": "active", "200002": "held", "200003": "active", "200004": "held"}
        assert AccountChange.objects.filter(action="imported").count() == 4
        assert AuditEvent.objects.filter(action="receiving_accounts.extract_imported").count() == 1
        inspection = services.inspect()
    assert {a.resident_number for a, _r in inspection.mismatched} == {"200002", "200004"}
    assert [[m.resident_number for m in members] for *_k, members in inspection.shared] == [["200001", "200002"]]
    assert [a.resident_number for a, _r in inspection.left] == ["200003"]
    # The same delivery again changes nothing.
    again = services.import_extract(muni_a, open_source("csv", str(path)))
    assert (again.created, again.changed, again.unchanged) == (0, 0, 4)

    client = __import__("django.test", fromlist=["Client"]).Client()
    assert sign_in(client, muni_a, *admin_a).status_code == 302
    page = client.get(f"/{muni_a.code}/staff/receiving-accounts/inspection/").content.decode()
    assert "****111" in page and "1111111" not in page and "200003" in page and "200004" in page
    queue = client.get(f"/{muni_a.code}/staff/receiving-accounts/").content.decode()
    assert "やまだ はなこ" in queue and "ﾔﾏﾀﾞ ﾀﾛｳ" in queue
    with tenant(muni_a):
        held = ReceivingAccount.objects.get(resident_number="200002")
        other = ReceivingAccount.objects.get(resident_number="200004")
    assert client.post(f"/{muni_a.code}/staff/receiving-accounts/{held.pk}/decide/",
                       {"decision": "reject", "note": "家族名義"}).status_code == 302
    assert client.post(f"/{muni_a.code}/staff/receiving-accounts/{other.pk}/decide/",
                       {"decision": "approve"}).status_code == 302
    with tenant(muni_a):
        assert ReceivingAccount.objects.get(pk=held.pk).status == "rejected"
        assert ReceivingAccount.objects.get(pk=other.pk).status == "active"
        assert {"receiving_accounts.rejected", "receiving_accounts.approved"} <= set(
            AuditEvent.objects.values_list("action", flat=True))
    # Deciding twice is refused.
    client.post(f"/{muni_a.code}/staff/receiving-accounts/{held.pk}/decide/", {"decision": "approve"})
    with tenant(muni_a):
        assert ReceivingAccount.objects.get(pk=held.pk).status == "rejected"
    found = reading.accounts_by_resident_number(muni_a, ["200001", "200002", "999999"])
    assert set(found) == {"200001", "200002"} and found["200001"].usable and not found["200002"].usable


def test_a_viewer_cannot_decide_and_another_city_sees_nothing(tmp_path, muni_a, muni_b, viewer_a, admin_b, client):
    records(muni_a)
    services.import_extract(muni_a, open_source("csv", str(extract(tmp_path, "200002,0001,001,1,1111111,ﾔﾏﾀﾞ ﾀﾛｳ\n"))))
    with tenant(muni_a):
        held = ReceivingAccount.objects.get()
    assert sign_in(client, muni_a, *viewer_a).status_code == 302
    assert client.post(f"/{muni_a.code}/staff/receiving-accounts/{held.pk}/decide/",
                       {"decision": "approve"}).status_code == 403
    other = __import__("django.test", fromlist=["Client"]).Client()
    assert sign_in(other, muni_b, *admin_b).status_code == 302
    assert "ﾔﾏﾀﾞ" not in other.get(f"/{muni_b.code}/staff/receiving-accounts/").content.decode()
    assert other.post(f"/{muni_b.code}/staff/receiving-accounts/{held.pk}/decide/",
                      {"decision": "approve"}).status_code == 404
    with tenant(muni_a):
        assert ReceivingAccount.objects.get().status == "held"


def test_a_bad_extract_imports_nothing_and_names_each_line(tmp_path, muni_a):
    records(muni_a)
    path = extract(tmp_path, "200001,0001,001,1,1111111,ﾔﾏﾀﾞ ﾀﾛｳ\n"
                             "200002,0002,001,1,1111111,ヤマダ ハナコ\n"
                             "200003,0001,999,1,22222,山田\n"
                             "999999,0001,001,1,1111111,ヤマダ\n"
                             "200001,0001,001,1,1111111,ﾔﾏﾀﾞ ﾀﾛｳ\n")
    with pytest.raises(services.ImportRejected) as caught:
        services.import_extract(muni_a, open_source("csv", str(path)))
    text = "\n".join(caught.value.errors)
    assert "line 3: bank:" in text and "line 4: branch:" in text and "line 4: account_number:" in text
    assert "line 4: holder_kana:" in text and "line 5: resident_number: no resident record" in text
    assert "line 6: resident_number: '200001' appears twice" in text and "line 2" not in text
    with tenant(muni_a):
        assert not ReceivingAccount.objects.exists() and not AccountChange.objects.exists()


def test_one_account_per_resident_and_per_person_and_append_only_history(muni_a):
    records(muni_a)
    with tenant(muni_a):
        fields = dict(bank_code="0001", bank_name="みずほ", bank_kana="ﾐｽﾞﾎ", branch_code="001", branch_name="東京営業部",
                      branch_kana="ﾄｳｷﾖｳ", account_type=1, account_number="1234567", holder_kana="ﾔﾏﾀﾞ",
                      source="national", status="active", name_check="match")
        ReceivingAccount.objects.create(resident_number="200001", **fields)
        with pytest.raises(IntegrityError), transaction.atomic():
            ReceivingAccount.objects.create(resident_number="200001", **fields)
        with pytest.raises(IntegrityError), transaction.atomic():
            ReceivingAccount.objects.create(resident_number="200002", **{**fields, "account_number": "123456"})
        change = AccountChange.objects.create(resident_number="200001", action="imported", bank_code="0001",
                                              branch_code="001", account_type=1, account_number="1234567",
                                              holder_kana="ﾔﾏﾀﾞ", source="national", status="active",
                                              actor_type="system")
        with pytest.raises(AccountChange.AppendOnly):
            change.save()
        with pytest.raises(AccountChange.AppendOnly):
            change.delete()


def test_the_import_command(tmp_path, muni_a):
    """`madoguchi receiving-accounts import` in a real process on its own database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env.update(MADOGUCHI_ENV="dev", MADOGUCHI_DATA_DIR=str(tmp_path / "data"))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "madoguchi", *args], env=env, capture_output=True, text=True,
                              timeout=300)

    assert run("migrate").returncode == 0
    assert run("demo").returncode == 0
    good = extract(tmp_path, "100002,0001,001,1,1234567,マドグチ ハナコ\n", encoding="cp932", name="good.csv")
    done = run("receiving-accounts", "import", str(good), "--municipality", "139998", "--encoding", "cp932")
    assert done.returncode == 0, done.stderr
    assert "1 new, 0 changed, 0 unchanged, 0 held" in done.stdout
    bad = extract(tmp_path, "100002,0001,001,1,12345,マドグチ ハナコ\n", name="bad.csv")
    refused = run("receiving-accounts", "import", str(bad), "--municipality", "139998")
    assert refused.returncode == 1 and "line 2: account_number:" in refused.stderr
    missing = run("receiving-accounts", "import", str(tmp_path / "nope.csv"), "--municipality", "139998")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    wrong = run("receiving-accounts", "import", str(good), "--municipality", "000000")
    assert wrong.returncode == 2
