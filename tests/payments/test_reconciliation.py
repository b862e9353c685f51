"""Reconciliation (収納消込): a day's settled transactions (the demo ledger, Stripe's
balance-transaction list on the local fake, the till) against our payments and refunds;
items that stay open until resolved, running a day twice, the daily job, the CLI, the
back-office pages and the daily report's CSV in cp932 and UTF-8."""

import datetime as dt

import pytest

from madoguchi import cli
from madoguchi.audit.models import AuditEvent
from madoguchi.core.dates import today_in_japan
from madoguchi.municipalities.tenancy import tenant
from madoguchi.payments import reconciliation, services
from madoguchi.payments.models import DemoCheckout, Payment, ReconciliationItem, ReconciliationRun
from madoguchi.procedures.models import ProcedureVersion
from tests.conftest import sign_in

from .conftest import submit_sodai
from .fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe
from .test_stripe import started


def back(p):
    return f"/139998/payments/{p.public_id}/"


def pay_demo(application, person):
    payment = services.start(application, person, return_url=back)
    with tenant(application.municipality):
        checkout = DemoCheckout.objects.get(reference=payment.provider_reference)
        checkout.state = DemoCheckout.State.PAID
        checkout.save(update_fields=["state"])  # the hosted page's save: the ledger keeps the time
    return services.confirm(payment)


def another_owed(catalog_a, hanako, first):
    """A second application of the household (the first closed: one open 粗大ごみ per household)."""
    from madoguchi.applications.models import Application

    with tenant(first.municipality):
        Application.objects.filter(pk=first.pk).update(status="completed")
    return submit_sodai(catalog_a, hanako)


def outcomes(run):
    with tenant(run.municipality):
        return sorted(ReconciliationItem.objects.filter(run=run).values_list("kind", "outcome", "ours_yen",
                                                                             "theirs_yen"))


@pytest.fixture
def today():
    return today_in_japan()


def test_the_day_window_is_the_day_in_japan():
    start, end = reconciliation.day_window(dt.date(2026, 12, 3))
    assert start.astimezone(dt.UTC) == dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC)
    assert end - start == dt.timedelta(days=1)


def test_demo_day_matches_payments_and_refunds_and_a_second_run_duplicates_nothing(owed, taro, cashier, today):
    payment = pay_demo(owed, taro)
    assert payment.status == "succeeded"
    services.refund(payment, cashier[0], amount_yen=600, reason="一部取消し")
    run = reconciliation.reconcile(owed.municipality, "demo", today)
    assert run.state == "done" and run.matched == 2 and run.unmatched == 0
    assert run.settled_yen == 1000 and run.fee_yen == 0 and run.runs == 1
    assert outcomes(run) == [("charge", "matched", 1600, 1600), ("refund", "matched", 600, 600)]
    again = reconciliation.reconcile(owed.municipality, "demo", today)
    assert again.pk == run.pk and again.runs == 2
    with tenant(owed.municipality):
        assert ReconciliationItem.objects.count() == 2 and ReconciliationRun.objects.count() == 1
        assert AuditEvent.objects.filter(action="payments.reconciled", object_id=str(run.pk)).count() == 2


def test_missing_on_either_side_and_amounts_that_differ_stay_open_until_resolved(owed, taro, hanako, catalog_a,
                                                                                 cashier, today):
    m = owed.municipality
    paid = pay_demo(owed, taro)
    other = pay_demo(another_owed(catalog_a, hanako, owed), hanako)
    with tenant(m):
        DemoCheckout.objects.create(municipality=m, reference="demo_stranger", amount_yen=999, return_url="/",
                                    state="paid", paid_at=paid.succeeded_at)  # theirs only
        DemoCheckout.objects.filter(reference=paid.provider_reference).update(amount_yen=1500)  # differs
        tomorrow = reconciliation.day_window(today)[1] + dt.timedelta(minutes=1)
        DemoCheckout.objects.filter(reference=other.provider_reference).update(paid_at=tomorrow)  # ours only today
    run = reconciliation.reconcile(m, "demo", today)
    assert (run.matched, run.missing_ours, run.missing_theirs, run.amount_differs) == (0, 1, 1, 1)
    assert outcomes(run) == [("charge", "amount_differs", 1600, 1500), ("charge", "missing_ours", None, 999),
                             ("charge", "missing_theirs", 1600, None)]
    with tenant(m):
        item = ReconciliationItem.objects.get(run=run, outcome="amount_differs")
    with pytest.raises(reconciliation.ReconciliationError) as exc:
        reconciliation.resolve(item, cashier[0], note="  ")
    assert exc.value.field == "note" and exc.value.status == 400
    reconciliation.resolve(item, cashier[0], note="決済事業者に確認し、差額は返金済み")
    with pytest.raises(reconciliation.ReconciliationError) as exc:
        reconciliation.resolve(item, cashier[0], note="二度目")
    assert exc.value.code == "not_open"
    with tenant(m):
        assert AuditEvent.objects.filter(action="payments.reconciliation_resolved", actor_id=str(cashier[0].pk),
                                         object_id=str(item.pk)).count() == 1
    # A second run keeps the resolved item as it was, and duplicates nothing.
    run = reconciliation.reconcile(m, "demo", today)
    with tenant(m):
        assert ReconciliationItem.objects.filter(run=run).count() == 3
        item.refresh_from_db()
        assert item.resolution.startswith("決済事業者") and item.resolved_by_id == cashier[0].pk
    # The next day settles the payment missing today: matched there, today's item closed by itself.
    next_run = reconciliation.reconcile(m, "demo", today + dt.timedelta(days=1))
    assert outcomes(next_run) == [("charge", "matched", 1600, 1600)]
    with tenant(m):
        closed = ReconciliationItem.objects.get(run=run, outcome="missing_theirs")
        assert closed.resolved_at is not None and "自動" in closed.resolution
    with tenant(m):
        assert ReconciliationItem.objects.get(run=run, outcome="missing_ours").is_open


@pytest.fixture
def fake(settings):
    server = FakeStripe()
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_API_KEY = API_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = server.base_url
    yield server
    server.stop()


def test_stripe_balance_transactions_pages_fees_refunds_and_foreign_charges(client, owed, taro, cashier, fake, today):
    m = owed.municipality
    _response, payment = started(client, owed, taro)
    fake.pay(payment.provider_reference)
    payment = services.confirm(payment)
    assert payment.status == "succeeded"
    refund = services.refund(payment, cashier[0], amount_yen=100, reason="一部取消し")
    for _ in range(120):  # more than a page of 100: the list is followed with starting_after
        fake.foreign_charge(500)
    fake.payout(10_000)  # not a payment: ignored
    fake.foreign_charge(700, created=int(reconciliation.day_window(today)[1].timestamp()))  # tomorrow: not listed
    run = reconciliation.reconcile(m, "stripe", today)
    assert (run.matched, run.missing_ours, run.missing_theirs, run.amount_differs) == (2, 120, 0, 0)
    with tenant(m):
        charge = ReconciliationItem.objects.get(run=run, kind="charge", outcome="matched")
        assert charge.reference == payment.provider_reference and charge.fee_yen == round(1600 * 0.036)
        assert charge.transaction.startswith("txn_fake_") and charge.payment_id == payment.pk
        assert ReconciliationItem.objects.get(run=run, kind="refund").reference == refund.provider_reference
    assert run.fee_yen == 58 + 120 * 18 and run.settled_yen == 1600 - 100 + 120 * 500
    pages = [p for method, p in fake.requests if p.startswith("/v1/balance_transactions")]
    assert len(pages) == 2 and "starting_after=txn_fake_" in pages[1] and "created%5Bgte%5D=" in pages[0]


def test_a_stripe_outage_fails_the_run_and_the_same_day_succeeds_later(client, owed, taro, fake, today):
    _response, payment = started(client, owed, taro)
    fake.pay(payment.provider_reference)
    services.confirm(payment)
    fake.fail_next = 1
    with pytest.raises(reconciliation.ReconciliationError):
        reconciliation.reconcile_day(owed.municipality, today)
    run = ReconciliationRun.unscoped.get(municipality=owed.municipality, provider="stripe", day=today)
    assert run.state == "failed" and run.error == "APIError"
    assert AuditEvent.unscoped.filter(action="payments.reconciliation_failed").count() == 1
    (run,) = reconciliation.reconcile_day(owed.municipality, today)
    assert run.state == "done" and run.matched == 1 and run.error == ""


def test_counter_payments_are_their_own_truth(owed, cashier, today):
    payment = services.record_counter(owed, cashier[0], method="cash", till_receipt="R-77")
    services.refund(payment, cashier[0], amount_yen=1600, reason="取消し")
    runs = reconciliation.reconcile_day(owed.municipality, today)
    (run,) = [r for r in runs if r.provider == "counter"]
    assert run.matched == 2 and run.unmatched == 0
    with tenant(owed.municipality):
        item = ReconciliationItem.objects.get(run=run, kind="charge")
    assert item.reference == str(payment.public_id) and item.transaction == "R-77"


def test_the_daily_job_is_one_of_the_workers_sweeps():
    from django.utils.module_loading import import_string

    from madoguchi.core.management.commands import worker

    assert import_string("madoguchi.payments.reconciliation.sweep") in [import_string(p) for p in worker.SWEEPS]


def test_the_daily_job_reconciles_yesterday_once(owed, taro, today):
    payment = pay_demo(owed, taro)
    yesterday = payment.succeeded_at - dt.timedelta(days=1)
    with tenant(owed.municipality):
        Payment.objects.filter(pk=payment.pk).update(succeeded_at=yesterday)
        DemoCheckout.objects.filter(reference=payment.provider_reference).update(paid_at=yesterday)
    reconciliation.sweep()
    reconciliation.sweep()
    run = ReconciliationRun.unscoped.get(municipality=owed.municipality, day=today - dt.timedelta(days=1))
    assert run.provider == "demo" and run.matched == 1 and run.runs == 1


def test_the_daily_report_and_its_csv_in_cp932_and_utf8(owed, taro, cashier, catalog_a, hanako, today):
    m = owed.municipality
    services.refund(pay_demo(owed, taro), cashier[0], amount_yen=400, reason="一部取消し")
    services.record_counter(another_owed(catalog_a, hanako, owed), cashier[0], method="card", till_receipt="T-1")
    reconciliation.reconcile_day(m, today)
    rows = reconciliation.daily_report(m, today)
    by = {(r.procedure, r.provider): r for r in rows}
    total = rows[-1]
    assert total.procedure == "合計" and total.count == 2 and total.amount_yen == 3200 and total.refunded_yen == 400
    demo = next(r for (p, prov), r in by.items() if prov == "デモ")
    assert (demo.count, demo.amount_yen, demo.refunds, demo.refunded_yen, demo.net_yen) == (1, 1600, 1, 400, 1200)
    assert "粗大ごみ" in demo.procedure
    body, replaced = reconciliation.report_csv(rows, today, "cp932")
    text = body.decode("cp932")
    assert replaced == 0 and text.splitlines()[0] == ",".join(reconciliation.HEADER) and "窓口払い" in text
    assert text.endswith("\r\n")
    utf8 = reconciliation.report_csv(rows, today, "utf-8")[0]
    assert utf8.startswith(b"\xef\xbb\xbf") and utf8.decode("utf-8-sig") == text
    # A procedure's title with a character Shift_JIS has not (𠮷, U+20BB7): 〓 in cp932, kept in UTF-8.
    with tenant(m):
        version = ProcedureVersion.objects.get(pk=owed.version_id)
        version.definition = {**version.definition, "title": {"ja": "𠮷野町の粗大ごみ", "en": "Oversized"}}
        ProcedureVersion.objects.filter(pk=version.pk).update(definition=version.definition)
    rows = reconciliation.daily_report(m, today)
    body, replaced = reconciliation.report_csv(rows, today, "cp932")
    assert replaced == 2 and "〓野町の粗大ごみ" in body.decode("cp932")  # two rows: デモ and 窓口払い
    assert "𠮷野町の粗大ごみ" in reconciliation.report_csv(rows, today, "utf-8")[0].decode("utf-8-sig")
    assert reconciliation.not_in_cp932(rows) == 2
    with pytest.raises(reconciliation.ReconciliationError) as exc:
        reconciliation.report_csv(rows, today, "latin-1")
    assert exc.value.field == "encoding"


def test_cli_reconciles_a_day_and_refuses_bad_input_with_one_line(owed, taro, capsys, today):
    pay_demo(owed, taro)
    assert cli.main(["payments", "reconcile", "--date", today.isoformat(), "--municipality",
                     owed.municipality.code]) == 0
    assert f"{owed.municipality.code} demo {today.isoformat()}: matched 1" in capsys.readouterr().out
    for argv, message in ((["--date", "2026-13-01"], "--date '2026-13-01': expected YYYY-MM-DD"),
                          (["--municipality", "999999"], "--municipality 999999: no such municipality"),
                          (["--date", (today + dt.timedelta(days=1)).isoformat()], "a day still to come")):
        assert cli.main(["payments", "reconcile", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exit_:
        cli.main(["payments", "reconcile", "--when", "x"])
    assert exit_.value.code == 2


def test_back_office_pages_list_resolve_and_download(client, owed, taro, admin_a, viewer_a, muni_a, today):
    paid = pay_demo(owed, taro)
    with tenant(muni_a):
        DemoCheckout.objects.filter(reference=paid.provider_reference).update(amount_yen=1500)
    code = muni_a.code
    assert sign_in(client, muni_a, *admin_a).status_code == 302
    base = f"/{code}/staff/payments/reconciliation/"
    assert "収納消込" in client.get(base).content.decode()
    bad = client.post(base, {"date": "2026-02-30"})
    assert bad.status_code == 400 and 'id="date-error"' in bad.content.decode()
    done = client.post(base, {"date": today.isoformat()})
    assert done.status_code == 302 and done["Location"].endswith(f"report/{today.isoformat()}/")
    run = ReconciliationRun.unscoped.get(municipality=muni_a, provider="demo", day=today)
    page = client.get(f"{base}{run.pk}/").content.decode()
    assert "金額不一致" in page and "1,600円" in page and "1,500円" in page
    item = ReconciliationItem.unscoped.get(run=run)
    empty = client.post(f"{base}{run.pk}/", {"item": item.pk, "note": ""})
    assert empty.status_code == 400 and f'id="note-{item.pk}-error"' in empty.content.decode()
    assert client.post(f"{base}{run.pk}/", {"item": item.pk, "note": "確認済み"}).status_code == 302
    item.refresh_from_db()
    assert item.resolved_at is not None and item.resolution == "確認済み"
    report = client.get(f"{base}report/{today.isoformat()}/").content.decode()
    assert "日計表" in report and "令和" in report and "1,500円" in report
    csv = client.get(f"{base}report/{today.isoformat()}/?encoding=cp932")
    assert csv["Content-Type"] == "text/csv; charset=Shift_JIS" and "attachment" in csv["Content-Disposition"]
    assert "粗大ごみ" in csv.content.decode("cp932")
    assert client.get(f"{base}report/{today.isoformat()}/?encoding=utf-8").content.startswith(b"\xef\xbb\xbf")
    assert client.get(f"{base}report/{today.isoformat()}/?encoding=euc").status_code == 400
    assert client.get(f"{base}report/yesterday/").status_code == 404
    client.logout()
    assert sign_in(client, muni_a, *viewer_a).status_code == 302
    assert client.get(base).status_code == 403


def test_another_municipalitys_run_is_not_found(client, owed, taro, admin_b, muni_b, today):
    pay_demo(owed, taro)
    run = reconciliation.reconcile(owed.municipality, "demo", today)
    assert sign_in(client, muni_b, *admin_b).status_code == 302
    assert client.get(f"/{muni_b.code}/staff/payments/reconciliation/{run.pk}/").status_code == 404
    assert "粗大ごみ" not in client.get(f"/{muni_b.code}/staff/payments/reconciliation/report/"
                                      f"{today.isoformat()}/").content.decode()
