"""Registering, changing, deleting, reviewing and importing receiving accounts.

Every state change writes one AccountChange row (append-only history) and one audit event
(references only: the account's id, source, status — never the number or the name) in the
same transaction. The holder's kana is compared with the kana of the resident record the
person is linked to (zengin.names_match: both in Zengin kana, spaces ignored); anything but
a match is held for staff review, never silently accepted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import unicodedata
from collections.abc import Mapping

import rfc8785
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.identity import services as identity
from madoguchi.municipalities.tenancy import tenant
from madoguchi.residents.models import ResidentRecord
from madoguchi.zengin import UnconvertibleName, banks, names_match, to_zengin_kana

from .models import AccountChange, AccountType, NameCheck, ReceivingAccount, Source, Status

HOLDER_WIDTH = 30  # 受取人名 C(30) of a 総合振込 data record
PURPOSE = "公金受取口座の登録"


class InputProblems(Exception):
    """Input that cannot become an account: `problems` maps each field to a Japanese
    sentence naming it; `bank_candidates` / `branch_candidates` list the banks or branches a
    name matched when it matched several."""

    def __init__(self, problems: dict[str, str], bank_candidates=(), branch_candidates=()):
        self.problems = problems
        self.bank_candidates = list(bank_candidates)
        self.branch_candidates = list(branch_candidates)
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))


class AccountError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        self.code, self.message, self.status = code, message, status
        super().__init__(message)


@dataclasses.dataclass(frozen=True)
class AccountInput:
    """A checked account, before it is signed and stored."""

    bank_code: str
    bank_name: str
    bank_kana: str
    branch_code: str
    branch_name: str
    branch_kana: str
    account_type: int
    account_number: str
    holder_kana: str  # in Zengin kana

    def __repr__(self) -> str:  # never the whole number (tracebacks, logs)
        return f"AccountInput({self.bank_code}-{self.branch_code}, ****{self.account_number[-3:]})"

    def as_session(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_session(cls, data) -> AccountInput | None:
        try:
            return cls(**data)
        except TypeError:
            return None

    def document(self, municipality, person) -> bytes:
        """What the resident signs: RFC 8785 canonical JSON of the account, who and where."""
        return rfc8785.dumps({
            "purpose": PURPOSE, "municipality": municipality.code, "person": str(person.public_id),
            "bank_code": self.bank_code, "bank_name": self.bank_name, "branch_code": self.branch_code,
            "branch_name": self.branch_name, "account_type": self.account_type,
            "account_number": self.account_number, "holder_kana": self.holder_kana})


# ------------------------------------------------------------------ input

def _digits(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


def _resolve(query: str, *, code_width: int, by_code, search, labels: dict) -> tuple[object | None, str, list]:
    """(the bank or branch, a problem sentence, candidates)."""
    query = _digits(query) if _digits(query).isdigit() else (query or "").strip()
    if not query:
        return None, labels["empty"], []
    if query.isascii() and query.isdigit():
        if len(query) > code_width:
            return None, labels["long"], []
        try:
            return by_code(query.zfill(code_width)), "", []
        except LookupError:
            return None, labels["unknown_code"] % {"code": query.zfill(code_width)}, []
    found = search(query)
    exact = [f for f in found if f.name == query or f.kana == query or f.hira == query]
    if len(exact) == 1:
        return exact[0], "", []
    if len(found) == 1:
        return found[0], "", []
    if not found:
        return None, labels["no_match"] % {"query": query}, []
    return None, labels["several"], found


def check_input(data: Mapping[str, str]) -> AccountInput:
    """The resident's form (`bank`, `branch`: a code or a name; `account_type`,
    `account_number`, `holder_kana`) as an AccountInput, or InputProblems naming each field."""
    problems: dict[str, str] = {}
    bank, problem, bank_candidates = _resolve(
        data.get("bank", ""), code_width=4, by_code=banks.bank, search=lambda q: banks.search_banks(q, 20),
        labels={"empty": _("金融機関: 金融機関名またはコード（4桁）を入力してください。"),
                "long": _("金融機関: コードは4桁です。"),
                "unknown_code": _("金融機関: コード「%(code)s」の金融機関は見つかりません。"),
                "no_match": _("金融機関: 「%(query)s」に当たる金融機関は見つかりません。名前の一部かコード（4桁）を入力してください。"),
                "several": _("金融機関: 複数の金融機関が当たります。候補から選んでください。")})
    if problem:
        problems["bank"] = problem
    branch = None
    branch_candidates = []
    if bank is not None:
        branch, problem, branch_candidates = _resolve(
            data.get("branch", ""), code_width=3, by_code=lambda c: banks.branch(bank.code, c),
            search=lambda q: banks.search_branches(bank.code, q, 30),
            labels={"empty": _("支店: 支店名またはコード（3桁）を入力してください。"),
                    "long": _("支店: コードは3桁です。"),
                    "unknown_code": _("支店: この金融機関にコード「%(code)s」の支店は見つかりません。"),
                    "no_match": _("支店: 「%(query)s」に当たる支店は見つかりません。名前の一部かコード（3桁）を入力してください。"),
                    "several": _("支店: 複数の支店が当たります。候補から選んでください。")})
        if problem:
            problems["branch"] = problem
    kind = (data.get("account_type") or "").strip()
    if kind not in {str(t) for t in AccountType.values}:
        problems["account_type"] = _("預金種目: 普通・当座・貯蓄から選んでください。")
    number = _digits(data.get("account_number", "")).replace("-", "").replace(" ", "")
    if not number:
        problems["account_number"] = _("口座番号: 7桁の数字を入力してください。")
    elif not (number.isascii() and number.isdigit()):
        problems["account_number"] = _("口座番号: 数字だけで入力してください。")
    elif len(number) != 7:
        problems["account_number"] = _("口座番号: 7桁の数字で入力してください（%(n)s桁でした）。") % {"n": len(number)}
    holder = ""
    try:
        holder = to_zengin_kana(data.get("holder_kana") or "")
        if not holder:
            problems["holder_kana"] = _("口座名義: 通帳に書かれた名義をカタカナで入力してください。")
        elif len(holder) > HOLDER_WIDTH:
            problems["holder_kana"] = _("口座名義: 振込で使えるのは%(n)s文字（濁点・半濁点も1文字）までです。") % {"n": HOLDER_WIDTH}
    except UnconvertibleName as exc:
        listed = "、".join(_("「%(c)s」（%(i)s文字目）") % {"c": c, "i": i + 1} for i, c in exc.problems)
        problems["holder_kana"] = _("口座名義: 振込で使えない文字があります: %(chars)s。カタカナで入力してください。") % {
            "chars": listed}
    if problems:
        raise InputProblems(problems, bank_candidates, branch_candidates)
    return AccountInput(bank_code=bank.code, bank_name=bank.name, bank_kana=bank.zengin_kana, branch_code=branch.code,
                        branch_name=branch.name, branch_kana=branch.zengin_kana, account_type=int(kind),
                        account_number=number, holder_kana=holder)


# ------------------------------------------------------------------ changes

def _name_check(holder_kana: str, record) -> str:
    if record is None or not record.name_kana.strip():
        return NameCheck.NO_KANA
    return NameCheck.MATCH if names_match(holder_kana, record.name_kana) else NameCheck.MISMATCH


def _history(account: ReceivingAccount, action: str, actor_type: str, actor_id: str = "") -> None:
    AccountChange.objects.create(
        account_id_at_change=account.pk, resident_number=account.resident_number, person=account.person,
        action=action, bank_code=account.bank_code, branch_code=account.branch_code,
        account_type=account.account_type, account_number=account.account_number, holder_kana=account.holder_kana,
        source=account.source, status=account.status, actor_type=actor_type, actor_id=actor_id)


def _event(account: ReceivingAccount, actor, **extra) -> dict:
    """record()'s arguments for an account: references only, never the number or the name."""
    return dict(actor=actor, obj=("receiving_accounts.receivingaccount", str(account.pk)),
                data={"source": account.source, "status": account.status, "name_check": account.name_check, **extra})


def _apply(account: ReceivingAccount, cleaned: AccountInput) -> None:
    for name in ("bank_code", "bank_name", "bank_kana", "branch_code", "branch_name", "branch_kana", "account_type",
                 "account_number", "holder_kana"):
        setattr(account, name, getattr(cleaned, name))


def register_signed(municipality, person, cleaned: AccountInput, result) -> ReceivingAccount:
    """Stores the account the resident signed (`result`: the taken `sign` ceremony over
    cleaned.document). Held for review when the holder's kana does not match."""
    from madoguchi.ceremonies import callers as ceremonies

    document = cleaned.document(municipality, person)
    if (result is None or result.purpose != ceremonies.SIGN or result.signature is None
            or result.document_sha256 != hashlib.sha256(document).hexdigest()):
        raise AccountError("signature_mismatch", _("署名された内容が登録内容と一致しません。"))
    try:
        ceremonies.signed_record(bytes(result.signature), document, municipality=municipality, taken=result)
    except ceremonies.SignatureRefused:
        raise AccountError("signature_invalid", _("電子署名を確認できませんでした。")) from None
    if result.person_id != person.pk:
        raise AccountError("wrong_signer", _("本人の電子署名ではありません。"), status=403)
    actor = ("resident", str(person.public_id))
    with tenant(municipality), transaction.atomic():
        link = identity.resident_link_of(person)
        if link is None:
            raise AccountError("no_resident_record", _("住民記録との紐付けが済んでいないため登録できません。"), status=409)
        resident = link.record
        account = (ReceivingAccount.objects.select_for_update().filter(resident_number=resident.resident_number).first()
                   or ReceivingAccount.objects.select_for_update().filter(person=person).first())
        action = AccountChange.Action.CHANGED if account else AccountChange.Action.REGISTERED
        if account is None:
            account = ReceivingAccount(resident_number=resident.resident_number)
        _apply(account, cleaned)
        account.person = person
        account.resident_number = resident.resident_number
        account.source = Source.PORTAL
        account.name_check = _name_check(cleaned.holder_kana, resident)
        account.status = Status.ACTIVE if account.name_check == NameCheck.MATCH else Status.HELD
        account.document_sha256 = result.document_sha256
        account.verification = result.verification or {}
        account.reviewed_by, account.reviewed_at, account.review_note = None, None, ""
        account.save()
        _history(account, action, "resident", str(person.public_id))
        if action == AccountChange.Action.CHANGED:
            record("receiving_accounts.changed", **_event(account, actor, ceremony=result.id))
        else:
            record("receiving_accounts.registered", **_event(account, actor, ceremony=result.id))
    return account


def delete_for(municipality, person) -> bool:
    """The resident deletes their account (the history keeps it). False when there is none."""
    with tenant(municipality), transaction.atomic():
        account = ReceivingAccount.objects.select_for_update().filter(person=person).first()
        if account is None:
            return False
        _history(account, AccountChange.Action.DELETED, "resident", str(person.public_id))
        record("receiving_accounts.deleted", **_event(account, ("resident", str(person.public_id))))
        account.delete()
    return True


def decide(account: ReceivingAccount, staff_user, *, approve: bool, note: str = "") -> ReceivingAccount:
    """Staff settle a held account: approved (the name difference is explained, e.g. a
    married name the bank has not updated) or rejected (not the resident's own account)."""
    with transaction.atomic():
        account = ReceivingAccount.objects.select_for_update().get(pk=account.pk)
        if account.status != Status.HELD:
            raise AccountError("not_held", _("この口座は確認待ちではありません。"), status=409)
        account.status = Status.ACTIVE if approve else Status.REJECTED
        account.reviewed_by, account.reviewed_at, account.review_note = staff_user, timezone.now(), note[:500]
        account.save()
        action = AccountChange.Action.APPROVED if approve else AccountChange.Action.REJECTED
        _history(account, action, "staff", str(staff_user.pk))
        if approve:
            record("receiving_accounts.approved", **_event(account, staff_user))
        else:
            record("receiving_accounts.rejected", **_event(account, staff_user))
    return account


def history_of(person) -> list[AccountChange]:
    """The resident's own history in the municipality in scope, newest first."""
    link = identity.resident_link_of(person)
    numbers = [link.record.resident_number] if link else []
    from django.db.models import Q
    return list(AccountChange.objects.filter(Q(person=person) | Q(resident_number__in=numbers)).order_by("-at", "-id")[:50])


def account_of(person) -> ReceivingAccount | None:
    """The person's account in the municipality in scope (by person, or by the resident
    record they are linked to: an account imported from the national registry)."""
    account = ReceivingAccount.objects.filter(person=person).first()
    if account is None:
        link = identity.resident_link_of(person)
        if link is not None:
            account = ReceivingAccount.objects.filter(resident_number=link.record.resident_number).first()
    return account


# ------------------------------------------------------------------ the national registry's extract

class ImportRejected(Exception):
    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s); nothing imported")


@dataclasses.dataclass
class ImportReport:
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    held: int = 0
    kept_portal: int = 0  # the resident signed a different account here: theirs is kept


def import_extract(municipality, source, *, actor=None) -> ImportReport:
    """All or nothing: every row is checked first (a known 宛名番号 of this municipality,
    known bank and branch, type, 7 digits, a holder name Zengin carries); any problem rejects
    the whole delivery with line numbers. Then each row creates or replaces the resident's
    account — except an account the resident signed in the portal that differs, which is
    kept (counted as kept_portal): the resident's own signed word is the newer."""
    from .adapters.base import RowError

    errors: list[str] = []
    rows = []
    with tenant(municipality):
        for row in source.rows():
            if isinstance(row, RowError):
                errors.append(f"line {row.line}: {row.message}")
                continue
            try:
                cleaned = check_input({"bank": row.bank_code, "branch": row.branch_code,
                                       "account_type": row.account_type, "account_number": row.account_number,
                                       "holder_kana": row.holder_kana})
            except InputProblems as exc:
                errors.extend(f"line {row.line}: {field}: {message}" for field, message in exc.problems.items())
                continue
            if not (row.bank_code.isdigit() and len(row.bank_code) == 4 and row.branch_code.isdigit()
                    and len(row.branch_code) == 3):
                errors.append(f"line {row.line}: bank_code/branch_code: codes are 4 and 3 digits")
                continue
            rows.append((row, cleaned))
        numbers = [r.resident_number for r, _c in rows]
        records = {r.resident_number: r for r in ResidentRecord.objects.filter(resident_number__in=numbers)}
        seen = set()
        for row, _cleaned in rows:
            if row.resident_number not in records:
                errors.append(f"line {row.line}: resident_number: no resident record {row.resident_number!r}")
            if row.resident_number in seen:
                errors.append(f"line {row.line}: resident_number: {row.resident_number!r} appears twice")
            seen.add(row.resident_number)
        if errors:
            raise ImportRejected(errors)
        report = ImportReport()
        with transaction.atomic():
            existing = {a.resident_number: a for a in
                        ReceivingAccount.objects.select_for_update().filter(resident_number__in=numbers)}
            for row, cleaned in rows:
                account = existing.get(row.resident_number)
                same = account is not None and all(getattr(account, f) == getattr(cleaned, f) for f in (
                    "bank_code", "branch_code", "account_type", "account_number", "holder_kana"))
                if same:
                    report.unchanged += 1
                    continue
                if account is not None and account.source == Source.PORTAL:
                    report.kept_portal += 1
                    continue
                created = account is None
                if created:
                    account = ReceivingAccount(resident_number=row.resident_number)
                _apply(account, cleaned)
                account.source = Source.NATIONAL
                account.name_check = _name_check(cleaned.holder_kana, records[row.resident_number])
                account.status = Status.ACTIVE if account.name_check == NameCheck.MATCH else Status.HELD
                account.document_sha256, account.verification = "", {}
                account.reviewed_by, account.reviewed_at, account.review_note = None, None, ""
                account.save()
                report.created += created
                report.changed += not created
                report.held += account.status == Status.HELD
                _history(account, AccountChange.Action.IMPORTED, "staff" if actor else "system",
                         str(actor.pk) if actor else "")
                record("receiving_accounts.imported", **_event(account, actor))
            record("receiving_accounts.extract_imported", actor=actor,
                   data={"created": report.created, "changed": report.changed, "unchanged": report.unchanged,
                         "held": report.held, "kept_portal": report.kept_portal})
    return report


# ------------------------------------------------------------------ 定期点検

@dataclasses.dataclass
class Inspection:
    mismatched: list        # (account, record or None): holder kana ≠ the record's kana now
    shared: list            # [(bank_code, branch_code, account_type, masked, [accounts])]
    left: list              # (account, record or None): the resident is no longer a resident
    total: int = 0


def inspect(limit: int = 500) -> Inspection:
    """The periodic check (公金受取口座の定期点検) over the accounts of the municipality in
    scope, against the resident records as they stand today."""
    from django.db.models import Count

    accounts = ReceivingAccount.objects.exclude(status=Status.REJECTED)
    report = Inspection(mismatched=[], shared=[], left=[], total=accounts.count())
    batch: list[ReceivingAccount] = []

    def flush():
        records = {r.resident_number: r for r in
                   ResidentRecord.objects.filter(resident_number__in=[a.resident_number for a in batch])}
        for account in batch:
            resident = records.get(account.resident_number)
            if _name_check(account.holder_kana, resident) != NameCheck.MATCH and len(report.mismatched) < limit:
                report.mismatched.append((account, resident))
            if (resident is None or resident.status != ResidentRecord.Status.RESIDENT) and len(report.left) < limit:
                report.left.append((account, resident))
        batch.clear()

    for account in accounts.order_by("pk").iterator(chunk_size=2000):
        batch.append(account)
        if len(batch) >= 2000:
            flush()
    flush()
    keys = ("bank_code", "branch_code", "account_type", "account_number")
    groups = (accounts.values(*keys).annotate(n=Count("id")).filter(n__gt=1).order_by("-n", *keys)[:limit])
    for group in groups:
        members = list(accounts.filter(**{k: group[k] for k in keys}).order_by("resident_number"))
        report.shared.append((group["bank_code"], group["branch_code"], group["account_type"],
                              members[0].masked_number if members else "", members))
    return report
