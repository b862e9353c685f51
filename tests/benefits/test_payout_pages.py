"""The back office's pages for paying a benefit and the resident's 給付金 page: open with
notices, a paper 確認書, a run built by one administrator and approved by another, the file
downloaded, the bank's results uploaded (a broken file refused with the reason); the
resident sees their benefit, declines it in the window; nobody else's is reachable."""

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from madoguchi import zengin
from madoguchi.benefits.models import Beneficiary, PaymentRun, Program
from madoguchi.identity.models import Person, ResidentLink
from madoguchi.municipalities.tenancy import tenant
from madoguchi.residents.models import ResidentRecord
from tests.applications.test_pages import signed_in
from tests.benefits.test_payouts import ACCOUNT, PAYER, city, second_admin  # noqa: F401  (fixtures)
from tests.conftest import sign_in


def next_weekday(days: int) -> dt.date:
    day = dt.date.today() + dt.timedelta(days=days)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def test_paying_a_benefit_through_the_pages(client, city, admin_a, second_admin, viewer_a):
    assert sign_in(client, city, *admin_a).status_code == 302
    base = f"/{city.code}/staff/benefits/"
    created = client.post(base, {"name": "物価高騰対応給付金", "legal_basis": "窓口市物価高騰対応給付金支給要綱",
                                 "reference_date": "2026-12-01", "unit": "household", "amount_yen": "30000"})
    detail = created["Location"]
    assert client.post(detail + "open/", {"decline_days": "0"}).status_code == 400
    opened = client.post(detail + "open/", {"decline_days": "1"}, follow=True).content.decode()
    assert "支給を始めました: 支給予定通知 2件、確認書の案内 1件。" in opened and "確認書の提出待ち" in opened

    bad = client.post(detail + "confirmations/", {**ACCOUNT, "resident_number": "3", "bank": "9876"})
    assert bad.status_code == 400 and "金融機関: コード「9876」の金融機関は見つかりません。" in bad.content.decode()
    ok = client.post(detail + "confirmations/", {**ACCOUNT, "resident_number": "3"}, follow=True).content.decode()
    assert "宛名番号 3 の確認書を受け付けました。" in ok
    twice = client.post(detail + "confirmations/", {**ACCOUNT, "resident_number": "3"})
    assert twice.status_code == 409 and "二重に支給しない" in twice.content.decode()

    # The window (1 day) has not passed: the run holds the 確認書 payee only.
    day = next_weekday(3)
    built = client.post(detail + "runs/", {**PAYER, "payment_date": day.isoformat()})
    assert built.status_code == 302, built.content.decode()[:2000]
    run_page = client.get(built["Location"]).content.decode()
    assert "0005 三菱ＵＦＪ" in run_page and "30,000円" in run_page
    assert "この振込データはあなたが作成しました。承認は別の職員が行います。" in run_page
    assert client.post(built["Location"] + "approve/").status_code == 403
    assert client.get(built["Location"] + "file/").status_code == 409

    approver = Client()
    device = TOTPDevice.objects.get(user=second_admin)
    assert sign_in(approver, city, second_admin, device, password="x" * 20).status_code == 302
    approved = approver.post(built["Location"] + "approve/", follow=True).content.decode()
    assert "振込データを承認しました。" in approved and "SHA-256" in approved
    download = approver.get(built["Location"] + "file/")
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    data = b"".join(download.streaming_content)
    sent = zengin.read_transfers(data)
    assert sent.total == 30000

    broken = zengin.write_results(sent.groups[0].header, [(t, "0") for t in sent.groups[0].transfers])
    broken = broken.replace(b"\r\n9", b"\r\n7", 1)
    refused = client.post(built["Location"] + "results/", {"file": SimpleUploadedFile("r.txt", broken)})
    assert refused.status_code == 400 and "結果ファイルを読めません" in refused.content.decode()
    answer = zengin.write_results(sent.groups[0].header, [(t, "2") for t in sent.groups[0].transfers])
    settled = client.post(built["Location"] + "results/", {"file": SimpleUploadedFile("r.txt", answer)},
                          follow=True).content.decode()
    assert "結果を取り込みました: 振込済み 0件、振込不能 1件。" in settled and "結果取込済み" in settled

    viewer = Client()
    assert sign_in(viewer, city, *viewer_a).status_code == 302
    assert viewer.get(built["Location"]).status_code == 403
    assert viewer.get(built["Location"] + "file/").status_code == 403
    with tenant(city):
        assert PaymentRun.objects.get().status == "settled"


def test_the_resident_sees_and_declines_their_benefit(client, city, admin_a):
    from madoguchi.benefits import payouts, services

    with tenant(city):
        program = services.create(admin_a[0], name="物価高騰対応給付金", legal_basis="要綱",
                                  reference_date=dt.date(2026, 12, 1), unit="household", amount_yen=30000)
        payouts.open_program(program, admin_a[0], decline_days=7)
        me = Person.objects.create(verified_name="給付　五郎", verified_birth_date=dt.date(1990, 1, 1), verified_sex="1",
                                   verified_address="窓口市", verified_at=dt.datetime.now(dt.timezone.utc))
        ResidentLink.objects.create(municipality=city, person=me, method="automatic",
                                    record=ResidentRecord.objects.get(resident_number="5"))
        mine = Beneficiary.objects.get(resident_number="5")
        theirs = Beneficiary.objects.get(resident_number="1")
    signed_in(client, city, me)
    page = client.get(f"/{city.code}/benefits/").content.decode()
    assert "物価高騰対応給付金" in page and "30,000円" in page and "****005" in page and "0000005" not in page
    assert "この給付金を辞退する" in page
    assert client.post(f"/{city.code}/benefits/{theirs.pk}/decline/").status_code == 404
    assert client.post(f"/{city.code}/benefits/{mine.pk}/decline/", follow=True).status_code == 200
    with tenant(city):
        assert Beneficiary.objects.get(pk=mine.pk).status == "declined"
        assert Beneficiary.objects.get(pk=theirs.pk).status == "scheduled"
        assert Program.objects.get(pk=program.pk).status == "open"
    assert client.post(f"/{city.code}/benefits/{mine.pk}/decline/").status_code == 409
    assert Client().get(f"/{city.code}/benefits/").status_code == 302  # sign in first
