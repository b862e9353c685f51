"""Benefit programs and their eligibility (給付事業・対象者の抽出).

Eligibility is computed in the database over the resident register as it stood on the
reference date (residents.reading.residents_on), one rule after another, so a dry run can say
how many each rule removed before anything is sent: the 2020 special benefit's lesson was to
know the counts, and reconcile them, before paying.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.core.dates import born_bounds
from madoguchi.municipalities.tenancy import current_municipality
from madoguchi.receiving_accounts import reading as accounts
from madoguchi.residents import reading as register

from .models import Program

NAME_MAX, BASIS_MAX, AMOUNT_MAX, FLAGS_MAX = 100, 200, 10_000_000, 10


class ProgramError(ValueError):
    """A refused program; `field` names the form field."""

    def __init__(self, field_: str, message: str):
        self.field = field_
        super().__init__(message)


@dataclass
class DryRun:
    """Counts of a program's eligibility, rule by rule (each row: what the rule says, how many
    people remain after it), then the units paid and the total."""

    steps: list[tuple[str, int]] = field(default_factory=list)
    units: int = 0
    total_yen: int = 0
    payees: int = 0  # who receives the money: the person, or the household's head
    payees_with_account: int = 0  # of them, with a usable 公金受取口座 (プッシュ型; the rest need a 確認書)

    @property
    def payees_without_account(self) -> int:
        return self.payees - self.payees_with_account


def _text(value, field_: str, label: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ProgramError(field_, _("%(label)sを入力してください。") % {"label": label})
    if len(value) > limit or any(ord(c) < 0x20 for c in value):
        raise ProgramError(field_, _("%(label)sは改行なしの%(n)s文字以内にしてください。") % {"label": label, "n": limit})
    return value


def create(user, *, name, legal_basis, reference_date, unit, amount_yen, age_min=None, age_max=None,
           age_on=None, child_under_age=None, excluded_flags="") -> Program:
    name = _text(name, "name", _("事業名"), NAME_MAX)
    legal_basis = _text(legal_basis, "legal_basis", _("根拠"), BASIS_MAX)
    if not isinstance(reference_date, dt.date):
        raise ProgramError("reference_date", _("基準日を入力してください。"))
    if unit not in Program.Unit.values:
        raise ProgramError("unit", _("支給単位を選んでください。"))
    if not isinstance(amount_yen, int) or not 1 <= amount_yen <= AMOUNT_MAX:
        raise ProgramError("amount_yen", _("支給額は1円から1,000万円までの整数で入力してください。"))
    for value, name_ in ((age_min, "age_min"), (age_max, "age_max")):
        if value is not None and not 0 <= value <= 150:
            raise ProgramError(name_, _("年齢は0〜150の数で入力してください。"))
    if age_min is not None and age_max is not None and age_max < age_min:
        raise ProgramError("age_max", _("年齢の上限は下限以上にしてください。"))
    if child_under_age is not None and not 1 <= child_under_age <= 30:
        raise ProgramError("child_under_age", _("子どもの年齢（〜歳未満）を1〜30の数で入力してください。"))
    if unit == Program.Unit.CHILD and child_under_age is None:
        raise ProgramError("child_under_age", _("子ども1人あたりの給付には、子どもの年齢（〜歳未満）を入力してください。"))
    flags = (excluded_flags or "").replace("、", " ").replace(",", " ").split()
    if len(flags) > FLAGS_MAX or any(len(f) > 20 for f in flags):
        raise ProgramError("excluded_flags", _("除外する区分は20文字以内の言葉を10個までにしてください。"))
    if Program.objects.filter(name=name).exists():
        raise ProgramError("name", _("同じ事業名の給付がすでにあります。別の名前にしてください。"))
    with transaction.atomic():
        program = Program.objects.create(
            municipality=current_municipality(), name=name, legal_basis=legal_basis, reference_date=reference_date,
            unit=unit, amount_yen=amount_yen, age_min=age_min, age_max=age_max, age_on=age_on,
            child_under_age=child_under_age, excluded_flags=" ".join(flags), created_by=user)
        record("benefits.program_created", actor=user, obj=program,
               data={"name": name, "reference_date": reference_date.isoformat(), "unit": unit, "amount_yen": amount_yen})
    return program


def _children(program: Program):
    """The children under the program's age who were residents on the reference date."""
    born_after = born_bounds(program.reference_date, None, program.child_under_age - 1)[1]
    return register.residents_on(program.reference_date).filter(birth_date__gt=born_after)


def eligible(program: Program, steps: list | None = None):
    """The eligible people's records (a query), rule by rule; `steps` collects (rule, count)."""
    def step(label, query):
        if steps is not None:
            steps.append((label, query.count()))
        return query

    people = step(_("基準日（%(day)s）に住民") % {"day": program.reference_date.isoformat()},
                  register.residents_on(program.reference_date))
    if program.age_min is not None or program.age_max is not None:
        on_or_before, born_after = born_bounds(program.age_on or program.reference_date, program.age_min, program.age_max)
        if on_or_before is not None:
            people = people.filter(birth_date__lte=on_or_before)
        if born_after is not None:
            people = people.filter(birth_date__gt=born_after)
        if program.age_max is None:
            label = _("%(low)s歳以上") % {"low": program.age_min}
        elif program.age_min is None:
            label = _("%(high)s歳以下") % {"high": program.age_max}
        else:
            label = _("年齢 %(low)s〜%(high)s歳") % {"low": program.age_min, "high": program.age_max}
        people = step(label, people)
    for flag in program.flags():
        people = step(_("区分「%(flag)s」を除く") % {"flag": flag}, people.exclude(flags__contains=f" {flag} "))
    if program.child_under_age is not None:
        households = _children(program).exclude(household_id="").values("household_id")
        people = step(_("%(age)s歳未満の子どもがいる世帯") % {"age": program.child_under_age},
                      people.filter(household_id__in=households))
    return people


def dry_run(program: Program) -> DryRun:
    """Counts only: nothing is written, nobody is told."""
    result = DryRun()
    people = eligible(program, result.steps)
    if program.unit == Program.Unit.PERSON:
        result.units = people.count()
    elif program.unit == Program.Unit.HOUSEHOLD:
        with_number = people.exclude(household_id="").values("household_id").distinct().count()
        result.units = with_number + people.filter(household_id="").count()
    else:
        households = people.exclude(household_id="").values("household_id")
        result.units = _children(program).filter(household_id__in=households).count()
    result.total_yen = result.units * program.amount_yen
    usable = accounts.usable_resident_numbers()
    if program.unit == Program.Unit.PERSON:
        result.payees = result.units
        result.payees_with_account = people.filter(resident_number__in=usable).count()
    else:
        # Paid to the head of each eligible household (a person without a household number is
        # their own); a household whose head is not on the register that day needs a 確認書.
        alone = people.filter(household_id="")
        households = people.exclude(household_id="").values("household_id")
        result.payees = households.distinct().count() + alone.count()
        heads = register.residents_on(program.reference_date).filter(household_id__in=households,
                                                                     is_household_head=True)
        result.payees_with_account = (heads.filter(resident_number__in=usable).count()
                                      + alone.filter(resident_number__in=usable).count())
    return result
