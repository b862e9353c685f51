"""Payment runs (振込データ): build, four-eyes approval, the Zengin 総合振込 file, bank results.

- **Build** (staff): every payee of the program who is ready to pay — a 確認書 received, or a
  push payee whose window to decline has passed — and every failed payee whose account has
  changed since, with the account as it is *now* (the registered 公金受取口座, or the
  確認書's), copied onto the Payment. Totals per bank for the page.
- **Approve** (another member of staff: never the builder) releases the run: from then on
  nothing in it changes but each payment's result. The file is written from the payments in
  a fixed order (bank, branch, account, payment number), so the same run always gives the
  same bytes; their SHA-256 is in the audit trail and checked again at every download.
- **Results**: the bank's result file (the layout docs/zengin.md reads) must carry exactly
  the run's transfers; each marks its payment paid or failed with the reason. A failed payee
  is told to check their account and joins a later run once it has changed.
"""

import datetime as dt
import hashlib

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi import zengin
from madoguchi.audit.services import record
from madoguchi.identity import services as identity
from madoguchi.municipalities.tenancy import current_municipality
from madoguchi.receiving_accounts import reading as accounts
from madoguchi.zengin import banks

from .models import Beneficiary, Confirmation, Payment, PaymentRun, Program
from .payouts import PayoutError, _tell

MAX_RESULT_BYTES = 200 * 1024 * 1024


def _digits(value, width: int, field_: str, label: str) -> str:
    value = (value or "").strip()
    if len(value) != width or not value.isdigit():
        raise PayoutError(_("%(label)sは%(n)s桁の数字で入力してください。") % {"label": label, "n": width}, field_)
    return value


def check_payer(payer: dict) -> dict:
    """The payer's account (振込依頼人) as the form gives it, checked field by field."""
    out = {"payer_code": _digits(payer.get("payer_code"), 10, "payer_code", _("振込依頼人コード")),
           "payer_bank_code": _digits(payer.get("payer_bank_code"), 4, "payer_bank_code", _("支払元の金融機関コード")),
           "payer_branch_code": _digits(payer.get("payer_branch_code"), 3, "payer_branch_code", _("支払元の支店コード")),
           "payer_account_number": _digits(payer.get("payer_account_number"), 7, "payer_account_number",
                                           _("支払元の口座番号"))}
    try:
        banks.branch(out["payer_bank_code"], out["payer_branch_code"])
    except banks.UnknownBank:
        raise PayoutError(_("支払元の金融機関コード %(c)s の金融機関はありません。") % {"c": out["payer_bank_code"]},
                          "payer_bank_code") from None
    except banks.UnknownBranch:
        raise PayoutError(_("支払元の支店コード %(c)s の支店はありません。") % {"c": out["payer_branch_code"]},
                          "payer_branch_code") from None
    if str(payer.get("payer_account_type")) not in ("1", "2", "9"):
        raise PayoutError(_("支払元の預金種目を選んでください。"), "payer_account_type")
    out["payer_account_type"] = int(payer["payer_account_type"])
    try:
        name = zengin.to_zengin_kana(payer.get("payer_name") or "")
    except zengin.UnconvertibleName as exc:
        raise PayoutError(_("振込依頼人名に振込で使えない文字があります: %(c)s。カタカナで入力してください。")
                          % {"c": "".join(sorted({c for _, c in exc.problems}))}, "payer_name") from None
    if not name or len(name) > 40:
        raise PayoutError(_("振込依頼人名をカタカナ40文字（濁点も1文字）以内で入力してください。"), "payer_name")
    out["payer_name"] = name
    return out


def _account_now(beneficiary: Beneficiary, confirmations: dict, registered: dict):
    """(bank, branch, type, number, holder) to pay into now, or None: the registered usable
    account first (a push payee's, or one registered after a 確認書), else the 確認書's."""
    info = registered.get(beneficiary.resident_number)
    if info is not None and info.usable:
        return info.bank_code, info.branch_code, info.account_type, info.account_number, info.holder_kana
    confirmation = confirmations.get(beneficiary.resident_number)
    if confirmation is not None:
        return (confirmation.bank_code, confirmation.branch_code, confirmation.account_type,
                confirmation.account_number, confirmation.holder_kana)
    return None


def build(user, program: Program, payment_date, payer: dict, *, today: dt.date | None = None) -> PaymentRun:
    today = today or timezone.localdate()
    if not isinstance(payment_date, dt.date):
        raise PayoutError(_("振込指定日を入力してください。"), "payment_date")
    if payment_date <= today or payment_date > today + dt.timedelta(days=60):
        raise PayoutError(_("振込指定日は明日から60日以内の日にしてください。"), "payment_date")
    if payment_date.weekday() >= 5:
        raise PayoutError(_("振込指定日は金融機関の営業日（平日）にしてください。"), "payment_date")
    checked = check_payer(payer)
    municipality = current_municipality()
    with transaction.atomic():
        program = Program.objects.select_for_update().get(pk=program.pk)
        if program.status != Program.Status.OPEN:
            raise PayoutError(_("この給付は支給中ではありません。"), status=409)
        # Push payees whose window to decline has passed are ready now.
        Beneficiary.objects.filter(program=program, status=Beneficiary.Status.SCHEDULED,
                                   decline_until__lt=today).update(status=Beneficiary.Status.READY)
        candidates = list(Beneficiary.objects.select_for_update()
                          .filter(program=program, status__in=[Beneficiary.Status.READY, Beneficiary.Status.FAILED])
                          .order_by("resident_number"))
        numbers = [b.resident_number for b in candidates]
        registered = accounts.accounts_by_resident_number(municipality, numbers)
        # Whole-program reads, never IN lists of payees (statements that grow with the city).
        confirmations = {c.resident_number: c for c in Confirmation.objects.filter(program=program)}
        failed_into = {p.beneficiary_id: (p.bank_code, p.branch_code, p.account_type, p.account_number, p.holder_kana)
                       for p in Payment.objects.filter(beneficiary__program=program,
                                                       beneficiary__status=Beneficiary.Status.FAILED,
                                                       status=Payment.Status.FAILED).order_by("id")}
        run = PaymentRun.objects.create(municipality=municipality, program=program, payment_date=payment_date,
                                        created_by=user, **checked)
        payments, skipped = [], 0
        for beneficiary in candidates:
            account = _account_now(beneficiary, confirmations, registered)
            if account is None or failed_into.get(beneficiary.pk) == account:
                skipped += 1  # no account, or still the one that failed
                continue
            bank_code, branch_code, account_type, number, holder = account
            try:
                branch = banks.branch(bank_code, branch_code)
            except LookupError:
                skipped += 1  # the bank or branch is gone from the bank master (a merger)
                continue
            payments.append(Payment(municipality=municipality, run=run, beneficiary=beneficiary,
                                    amount_yen=beneficiary.amount_yen, bank_code=bank_code,
                                    bank_kana=banks.bank(bank_code).file_name, branch_code=branch_code,
                                    branch_kana=branch.file_name, account_type=account_type,
                                    account_number=number, holder_kana=holder))
        if not payments:
            raise PayoutError(_("振込できる支給対象者がいません（確認書の提出待ち・辞退の受付期間中・口座の変更待ちの方だけです）。"),
                              status=409)
        Payment.objects.bulk_create(payments, batch_size=5000)
        Beneficiary.objects.filter(pk__in=Payment.objects.filter(run=run).values("beneficiary_id")).update(
            status=Beneficiary.Status.IN_RUN, failure_reason="")
        run.count = len(payments)
        run.total_yen = sum(p.amount_yen for p in payments)
        run.save(update_fields=["count", "total_yen"])
        record("benefits.run_built", actor=user, obj=run,
               data={"program": program.pk, "payment_date": payment_date.isoformat(), "count": run.count,
                     "total_yen": run.total_yen, "skipped": skipped})
    return run


def by_bank(run: PaymentRun) -> list[dict]:
    """件数 and 金額 per receiving bank, with its name."""
    rows = (Payment.objects.filter(run=run).exclude(status=Payment.Status.CANCELLED).values("bank_code")
            .annotate(count=Count("id"), total=Sum("amount_yen"),
                      failed=Count("id", filter=Q(status=Payment.Status.FAILED))).order_by("bank_code"))
    out = []
    for row in rows:
        try:
            name = banks.bank(row["bank_code"]).name
        except LookupError:
            name = ""
        out.append({**row, "name": name})
    return out


def _locked(run: PaymentRun) -> PaymentRun:
    return PaymentRun.objects.select_for_update().get(pk=run.pk)


def approve(user, run: PaymentRun) -> PaymentRun:
    """The second pair of eyes releases the run and its file."""
    with transaction.atomic():
        run = _locked(run)
        if run.created_by_id == user.pk:
            raise PayoutError(_("自分が作成した振込データは承認できません。別の職員が承認してください。"), status=403)
        if run.status != PaymentRun.Status.BUILT:
            raise PayoutError(_("この振込データは承認待ちではありません（%(s)s）。") % {"s": run.get_status_display()},
                              status=409)
        data = transfer_file(run)
        run.status = PaymentRun.Status.RELEASED
        run.approved_by = user
        run.approved_at = timezone.now()
        run.file_sha256 = hashlib.sha256(data).hexdigest()
        run.save(update_fields=["status", "approved_by", "approved_at", "file_sha256"])
        record("benefits.run_released", actor=user, obj=run,
               data={"sha256": run.file_sha256, "bytes": len(data), "count": run.count, "total_yen": run.total_yen})
    return run


def cancel(user, run: PaymentRun) -> PaymentRun:
    """Only before approval: its payees are ready for another run."""
    with transaction.atomic():
        run = _locked(run)
        if run.status != PaymentRun.Status.BUILT:
            raise PayoutError(_("承認された振込データは取り消せません。"), status=409)
        count = Payment.objects.filter(run=run).count()
        Beneficiary.objects.filter(pk__in=Payment.objects.filter(run=run).values("beneficiary_id")).update(
            status=Beneficiary.Status.READY)
        Payment.objects.filter(run=run).update(status=Payment.Status.CANCELLED)
        run.status = PaymentRun.Status.CANCELLED
        run.save(update_fields=["status"])
        record("benefits.run_cancelled", actor=user, obj=run, data={"count": count})
    return run


def _header(run: PaymentRun) -> zengin.TransferHeader:
    branch = banks.branch(run.payer_bank_code, run.payer_branch_code)
    return zengin.TransferHeader(
        payer_code=run.payer_code, payer_name=run.payer_name, transfer_date=run.payment_date.strftime("%m%d"),
        bank_code=run.payer_bank_code, bank_name=banks.bank(run.payer_bank_code).file_name,
        branch_code=run.payer_branch_code, branch_name=branch.file_name, account_type=run.payer_account_type,
        account_number=run.payer_account_number)


def transfer_file(run: PaymentRun) -> bytes:
    """The 総合振込 file: the same bytes for the same run (fixed order, nothing from the clock)."""
    payments = (Payment.objects.filter(run=run).exclude(status=Payment.Status.CANCELLED)
                .order_by("bank_code", "branch_code", "account_number", "id"))
    transfers = (zengin.Transfer(bank_code=p.bank_code, branch_code=p.branch_code, account_type=p.account_type,
                                 account_number=p.account_number, name=p.holder_kana, amount=p.amount_yen,
                                 bank_name=p.bank_kana, branch_name=p.branch_kana, customer_code1=f"{p.pk:010d}")
                 for p in payments.iterator(chunk_size=5000))
    return zengin.write_transfers(_header(run), transfers)


def released_file(run: PaymentRun) -> bytes:
    """The released run's file, checked against the SHA-256 audited at approval."""
    if run.status not in (PaymentRun.Status.RELEASED, PaymentRun.Status.SETTLED):
        raise PayoutError(_("振込ファイルは承認の後にできます。"), status=409)
    data = transfer_file(run)
    if hashlib.sha256(data).hexdigest() != run.file_sha256:
        raise PayoutError(_("振込データが承認の後に変わっています。ファイルは出せません。監査ログを確認してください。"), status=409)
    return data


def file_name(run: PaymentRun) -> str:
    return f"sofuri-{run.program_id}-{run.pk}-{run.payment_date:%Y%m%d}.txt"


def import_results(user, run: PaymentRun, data: bytes) -> dict:
    """The bank's result file: each transfer paid or failed. All or nothing."""
    if len(data) > MAX_RESULT_BYTES:
        raise PayoutError(_("結果ファイルが大きすぎます（200MBまで）。"), "file", status=413)
    try:
        result = zengin.read_results(data)
    except zengin.FormatError as exc:
        raise PayoutError(_("結果ファイルを読めません: %(e)s") % {"e": str(exc)}, "file") from None
    with transaction.atomic():
        run = _locked(run)
        if run.status != PaymentRun.Status.RELEASED:
            raise PayoutError(_("この振込データの結果はすでに取り込んだか、まだ承認されていません（%(s)s）。")
                              % {"s": run.get_status_display()}, status=409)
        header = result.header
        if header.payer_code != run.payer_code or header.transfer_date != run.payment_date.strftime("%m%d"):
            raise PayoutError(_("結果ファイルの振込依頼人コードまたは振込指定日がこの振込データと違います。"), "file")
        payments = {p.pk: p for p in Payment.objects.select_for_update().filter(run=run, status=Payment.Status.PENDING)}
        seen = set()
        for r in result.results:
            t = r.transfer
            pk = int(t.customer_code1) if t.customer_code1.isdigit() else -1
            payment = payments.get(pk)
            if (payment is None or pk in seen or t.amount != payment.amount_yen or t.bank_code != payment.bank_code
                    or t.branch_code != payment.branch_code or t.account_number != payment.account_number):
                raise PayoutError(_("結果ファイルのレコード %(n)s はこの振込データの振込と一致しません。") % {"n": r.record}, "file")
            seen.add(pk)
        if len(seen) != len(payments):
            raise PayoutError(_("結果ファイルの件数（%(got)s件）が振込データ（%(want)s件）と違います。")
                              % {"got": len(seen), "want": len(payments)}, "file")
        paid, failed = [], []
        for r in result.results:
            payment = payments[int(r.transfer.customer_code1)]
            if r.paid:
                payment.status = Payment.Status.PAID
                paid.append(payment.beneficiary_id)
            else:
                payment.status, payment.failure_code, payment.failure_reason = Payment.Status.FAILED, r.code, r.reason[:100]
                failed.append(payment)
        Payment.objects.bulk_update(list(payments.values()), ["status", "failure_code", "failure_reason"],
                                    batch_size=5000)
        Beneficiary.objects.filter(pk__in=Payment.objects.filter(run=run, status=Payment.Status.PAID)
                                   .values("beneficiary_id")).update(status=Beneficiary.Status.PAID)
        for payment in failed:  # usually few; each keeps its own reason
            Beneficiary.objects.filter(pk=payment.beneficiary_id).update(
                status=Beneficiary.Status.FAILED, failure_reason=payment.failure_reason)
        run.status = PaymentRun.Status.SETTLED
        run.results_sha256 = hashlib.sha256(data).hexdigest()
        run.save(update_fields=["status", "results_sha256"])
        outcome = {"paid": len(paid), "failed": len(failed), "sha256": run.results_sha256}
        record("benefits.results_imported", actor=user, obj=run, data=outcome)
        numbers = list(Beneficiary.objects.filter(pk__in=Payment.objects.filter(run=run, status=Payment.Status.FAILED)
                                                  .values("beneficiary_id")).values_list("resident_number", flat=True))
        people = identity.person_ids_by_resident_number(numbers)
        _tell([people[n] for n in numbers if n in people], "benefits.failed")
    return outcome
