"""The read module for other apps (benefits): a person's usable receiving account as a
plain dataclass, never a model. Only an `active` account is usable for a payment: a held
one waits for staff, a rejected one is not the resident's.

    from madoguchi.receiving_accounts.reading import account_for
    info = account_for(person_id, municipality)   # AccountInfo | None
"""

from __future__ import annotations

import dataclasses

from madoguchi.identity import services as identity
from madoguchi.municipalities.tenancy import tenant

from .models import ReceivingAccount, Status


@dataclasses.dataclass(frozen=True)
class AccountInfo:
    resident_number: str
    bank_code: str
    bank_name: str
    bank_kana: str       # Zengin (half-width) kana, as a transfer file carries it
    branch_code: str
    branch_name: str
    branch_kana: str
    account_type: int    # 1 普通, 2 当座, 4 貯蓄
    account_number: str  # 7 digits: for the transfer file only, never for a page or a log
    holder_kana: str     # Zengin kana
    source: str          # portal | national
    status: str          # active | held | rejected
    usable: bool         # status is active

    @property
    def masked_number(self) -> str:
        return f"****{self.account_number[-3:]}"

    def __repr__(self) -> str:  # never the whole number
        return (f"AccountInfo({self.resident_number!r}, {self.bank_code}-{self.branch_code}, "
                f"{self.masked_number}, {self.status})")


def _info(account: ReceivingAccount) -> AccountInfo:
    return AccountInfo(
        resident_number=account.resident_number, bank_code=account.bank_code, bank_name=account.bank_name,
        bank_kana=account.bank_kana, branch_code=account.branch_code, branch_name=account.branch_name,
        branch_kana=account.branch_kana, account_type=account.account_type, account_number=account.account_number,
        holder_kana=account.holder_kana, source=account.source, status=account.status,
        usable=account.status == Status.ACTIVE)


def account_for(person_id: int, municipality) -> AccountInfo | None:
    """The account of the person in `municipality`: registered by them, or imported from the
    national registry for the resident record they are linked to. None when there is none."""
    with tenant(municipality):
        account = ReceivingAccount.objects.filter(person_id=person_id).first()
        if account is None:
            number = identity.resident_number_of(person_id)
            if number:
                account = ReceivingAccount.objects.filter(resident_number=number).first()
    return _info(account) if account is not None else None


def accounts_by_resident_number(municipality, resident_numbers) -> dict[str, AccountInfo]:
    """The accounts of many residents at once (a payment run), by 宛名番号."""
    with tenant(municipality):
        found = {}
        numbers = list(resident_numbers)
        for start in range(0, len(numbers), 5000):
            for account in ReceivingAccount.objects.filter(resident_number__in=numbers[start:start + 5000]):
                found[account.resident_number] = _info(account)
    return found


def usable_resident_numbers():
    """A query of the 宛名番号 (of the municipality in scope) whose account can be paid into
    (active), for other apps to narrow their own queries in the database (benefits' count of
    who can be paid without a 確認書)."""
    return ReceivingAccount.objects.filter(status=Status.ACTIVE).values("resident_number")
