"""Push-type payment (プッシュ型給付): opening a program writes its payees; each is told.

- A payee with a usable 公金受取口座 (receiving_accounts) gets a 支給予定通知 and a window to
  decline (辞退) or change the account — the run reads the account when it is built, so a
  change made in the window is the one paid into. After the window they are ready to pay.
- A payee without one needs a 確認書 carrying an account: online, the catalog's procedure
  `kyufu-kakuninsho` signed with the card and taken when staff accept it (the transition
  listener below), or on paper, typed in by staff. Both land in Confirmation, whose unique
  constraint (program, 宛名番号) is what keeps a household that sent both from being paid
  twice.
- Who is paid is decided on the register as it stood on the reference date (eligible():
  a household that moved out before it has no payee at all).
"""

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.identity import services as identity
from madoguchi.municipalities.tenancy import current_municipality
from madoguchi.receiving_accounts import reading as accounts
from madoguchi.receiving_accounts import services as account_input
from madoguchi.residents import reading as register

from .models import Beneficiary, Confirmation, Program
from .services import _children, eligible

CONFIRMATION_PROCEDURE = "kyufu-kakuninsho"
DECLINE_DAYS_DEFAULT, DECLINE_DAYS_MAX = 14, 60


class PayoutError(ValueError):
    """A refused step; `field` names the form field when there is one."""

    def __init__(self, message: str, field_: str | None = None, status: int = 400):
        self.field = field_
        self.status = status
        super().__init__(message)


def _today() -> dt.date:
    return timezone.localdate()


def payees(program: Program) -> list[dict]:
    """Who the program pays, with how many units: each eligible person (per person), or the
    head of each eligible household — its eligible member with the lowest 宛名番号 when the
    head was not on the register that day (a 確認書 then settles who answers)."""
    people = eligible(program)
    if program.unit == Program.Unit.PERSON:
        return [{"resident_number": r["resident_number"], "household_id": r["household_id"], "name": r["name"],
                 "units": 1} for r in people.values("resident_number", "household_id", "name").order_by("resident_number")]
    rows = list(people.values("resident_number", "household_id", "name").order_by("resident_number"))
    households: dict[str, list[dict]] = {}
    out = []
    for row in rows:
        if row["household_id"]:
            households.setdefault(row["household_id"], []).append(row)
        else:
            out.append({**row, "units": 1})  # no household number: their own household
    # Subqueries, not lists of a city's households (statements that grow with the city).
    eligible_households = people.exclude(household_id="").values("household_id")
    heads = {r["household_id"]: r for r in register.residents_on(program.reference_date)
             .filter(household_id__in=eligible_households, is_household_head=True)
             .values("resident_number", "household_id", "name")} if households else {}
    children = {}
    if program.unit == Program.Unit.CHILD:
        children = dict(_children(program).filter(household_id__in=eligible_households).values("household_id")
                        .annotate(n=Count("id")).values_list("household_id", "n"))
    for household, members in households.items():
        head = heads.get(household, members[0])
        units = children.get(household, 0) if program.unit == Program.Unit.CHILD else 1
        if units:
            out.append({**head, "units": units})
    if program.unit == Program.Unit.CHILD:
        out = [row for row in out if row["units"]]
    return sorted(out, key=lambda r: r["resident_number"])


def open_program(program: Program, user, *, decline_days: int = DECLINE_DAYS_DEFAULT,
                 today: dt.date | None = None) -> dict:
    """Starts paying: writes the payees (push or 確認書), opens the program and tells each
    payee who has an account on the portal. Once per program."""
    if not isinstance(decline_days, int) or not 1 <= decline_days <= DECLINE_DAYS_MAX:
        raise PayoutError(_("辞退・口座変更の受付期間は1〜%(n)s日で入力してください。") % {"n": DECLINE_DAYS_MAX},
                          "decline_days")
    today = today or _today()
    municipality = current_municipality()
    decline_until = today + dt.timedelta(days=decline_days)
    with transaction.atomic():
        locked = Program.objects.select_for_update().get(pk=program.pk)
        if locked.status != Program.Status.DRAFT:
            raise PayoutError(_("この給付はすでに支給を始めています。"), status=409)
        rows = payees(locked)
        # Every usable account of the municipality, read once: an IN list of a city's payees
        # grows with the city (SQLite refuses more than 250,000 parameters in a statement).
        usable = set(accounts.usable_resident_numbers().values_list("resident_number", flat=True)) if rows else set()
        created = Beneficiary.objects.bulk_create([
            Beneficiary(municipality=municipality, program=locked, resident_number=r["resident_number"],
                        household_id=r["household_id"], name=r["name"], units=r["units"],
                        amount_yen=r["units"] * locked.amount_yen,
                        route=Beneficiary.Route.PUSH if r["resident_number"] in usable else Beneficiary.Route.CONFIRMATION,
                        status=Beneficiary.Status.SCHEDULED if r["resident_number"] in usable else Beneficiary.Status.AWAITING,
                        decline_until=decline_until if r["resident_number"] in usable else None)
            for r in rows], batch_size=5000)
        locked.status = Program.Status.OPEN
        locked.save(update_fields=["status"])
        push = sum(1 for r in rows if r["resident_number"] in usable)
        summary = {"payees": len(created), "push": push, "confirmation": len(created) - push,
                   "total_yen": sum(r["units"] for r in rows) * locked.amount_yen,
                   "decline_until": decline_until.isoformat()}
        record("benefits.program_opened", actor=user, obj=locked, data=summary)
        people = identity.person_ids_by_resident_number([r["resident_number"] for r in rows])
        _tell([people[n] for n in (r["resident_number"] for r in rows) if n in people and n in usable],
              "benefits.scheduled")
        _tell([people[n] for n in (r["resident_number"] for r in rows) if n in people and n not in usable],
              "benefits.confirmation_needed")
    program.status = locked.status
    return summary


def _tell(person_ids: list[int], kind: str) -> None:
    """A notice through every channel (references only: the resident reads the details on
    their 給付金 page after signing in)."""
    from madoguchi.notices import services as notices

    notices.fan_out_everywhere(person_ids, category="benefits", kind=kind,
                               link=f"/{current_municipality().code}/benefits/")


# -- the resident ---------------------------------------------------------------------------


def of_person(person) -> list[Beneficiary]:
    """The person's own payee rows (through the resident record they are linked to)."""
    number = identity.resident_number_of(person.pk)
    if not number:
        return []
    return list(Beneficiary.objects.filter(resident_number=number).select_related("program").order_by("-program_id"))


def decline(person, beneficiary_id, *, today: dt.date | None = None) -> Beneficiary:
    """辞退: the payee's own, while its window is open."""
    today = today or _today()
    number = identity.resident_number_of(person.pk)
    with transaction.atomic():
        row = (Beneficiary.objects.select_for_update().filter(pk=beneficiary_id, resident_number=number).first()
               if number and str(beneficiary_id).isdigit() else None)
        if row is None:
            raise PayoutError(_("この給付は見つかりません。"), status=404)
        if row.status != Beneficiary.Status.SCHEDULED or (row.decline_until and today > row.decline_until):
            raise PayoutError(_("この給付は辞退の受付期間を過ぎているか、すでに手続きが進んでいます。"), status=409)
        row.status = Beneficiary.Status.DECLINED
        row.save(update_fields=["status", "updated_at"])
        record("benefits.declined", actor=("resident", str(person.public_id)), obj=row,
               data={"program": row.program_id})
    return row


# -- 確認書 ---------------------------------------------------------------------------------


def _confirm(program: Program, resident_number: str, checked, *, channel: str, user=None,
             application_id: str = "") -> Confirmation:
    """Records a 確認書 for the program's payee and makes them ready to pay. Inside the
    caller's transaction."""
    row = Beneficiary.objects.select_for_update().filter(program=program, resident_number=resident_number).first()
    if row is None:
        raise PayoutError(_("宛名番号 %(n)s の方はこの給付の対象者ではありません（基準日に住民でなかった、または対象の条件に"
                            "当たりません）。") % {"n": resident_number}, "resident_number")
    if row.status != Beneficiary.Status.AWAITING:
        raise PayoutError(_("この方の確認書はすでに受け付けています（状態: %(s)s）。二重に支給しないよう、受け付けませんでした。")
                          % {"s": Beneficiary.Status(row.status).label}, "resident_number", status=409)
    try:
        with transaction.atomic():
            confirmation = Confirmation.objects.create(
                municipality=current_municipality(), program=program, resident_number=resident_number, channel=channel,
                application_id=application_id, entered_by=user, bank_code=checked.bank_code,
                bank_name=checked.bank_name, branch_code=checked.branch_code, branch_name=checked.branch_name,
                account_type=checked.account_type, account_number=checked.account_number,
                holder_kana=checked.holder_kana)
    except IntegrityError:
        raise PayoutError(_("この方の確認書はすでに受け付けています。二重に支給しないよう、受け付けませんでした。"),
                          "resident_number", status=409) from None
    row.status = Beneficiary.Status.READY
    row.save(update_fields=["status", "updated_at"])
    record("benefits.confirmation_received", actor=user if user is not None else ("system", ""), obj=row,
           data={"program": program.pk, "channel": channel, "bank": checked.bank_code, "branch": checked.branch_code})
    return confirmation


def confirm_on_paper(user, program: Program, resident_number: str, form: dict) -> Confirmation:
    """A paper 確認書 typed in by staff (bank and branch by code or name, as the resident's form)."""
    resident_number = (resident_number or "").strip()
    if not resident_number or len(resident_number) > 20 or not resident_number.isalnum():
        raise PayoutError(_("宛名番号を入力してください（英数字20文字まで）。"), "resident_number")
    if program.status != Program.Status.OPEN:
        raise PayoutError(_("この給付は支給中ではありません。"), status=409)
    try:
        checked = account_input.check_input(form)
    except account_input.InputProblems as exc:
        field_, message = next(iter(exc.problems.items()))
        raise PayoutError(message, field_) from None
    with transaction.atomic():
        return _confirm(program, resident_number, checked, channel=Confirmation.Channel.PAPER, user=user)


def after_transitions(transitions) -> None:
    """The transition listener of benefits (applications/transitions.py): an online 確認書
    accepted by staff (→ approved) is recorded like a paper one; one that cannot be (no open
    benefit of that name, not a payee, already answered, an account that does not check)
    refuses the approval with the reason, for staff to return or reject it instead."""
    from madoguchi.applications.transitions import ListenerRefused

    for transition in transitions:
        application = transition.application
        if transition.target != "approved" or application.procedure.slug != CONFIRMATION_PROCEDURE:
            continue
        data = application.data or {}
        program = Program.objects.filter(name=str(data.get("program", "")).strip(),
                                         status=Program.Status.OPEN).first()
        if program is None:
            raise ListenerRefused(_("確認書の給付名「%(p)s」に当たる支給中の給付がありません。補正を依頼してください。")
                                  % {"p": str(data.get("program", ""))[:100]})
        number = identity.resident_number_of(application.person_id)
        if not number:
            raise ListenerRefused(_("申請者が住民記録と結び付いていないため、確認書を受け付けられません。"))
        try:
            checked = account_input.check_input({
                "bank": str(data.get("bank_code", "")), "branch": str(data.get("branch_code", "")),
                "account_type": str(data.get("account_type", "")), "account_number": str(data.get("account_number", "")),
                "holder_kana": str(data.get("holder_kana", ""))})
            _confirm(program, number, checked, channel=Confirmation.Channel.ONLINE,
                     user=transition.actor, application_id=str(application.public_id))
        except account_input.InputProblems as exc:
            raise ListenerRefused(_("確認書の口座が確認できません: %(m)s 補正を依頼してください。")
                                  % {"m": next(iter(exc.problems.values()))}) from None
        except PayoutError as exc:
            raise ListenerRefused(str(exc)) from None


def summary(program: Program) -> dict:
    """Counts of the program's payees by status and route (the program's page)."""
    counts = {s: 0 for s in Beneficiary.Status.values}
    for status, n in Beneficiary.objects.filter(program=program).values_list("status").annotate(n=Count("id")):
        counts[status] = n
    return {"by_status": [(Beneficiary.Status(s).label, n, s) for s, n in counts.items()],
            "total": sum(counts.values())}
