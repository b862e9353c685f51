"""Which categories reach the resident's e-mail and devices: all by default; 申請の状況,
給付・お支払い and 市からのお知らせ can be silenced, 防災・緊急 cannot."""

from django.db import transaction
from django.utils.translation import gettext as _

from madoguchi.audit.services import record

from .models import Category, Silenced

SILENCEABLE = [c for c in Category if c != Category.EMERGENCY]


class PreferenceError(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def wanted(person) -> dict[str, bool]:
    silenced = set(Silenced.objects.filter(person=person).values_list("category", flat=True))
    return {c.value: c == Category.EMERGENCY or c.value not in silenced for c in Category}


def silenced_among(person_ids, category: str) -> set[int]:
    if category == Category.EMERGENCY:
        return set()
    return set(Silenced.objects.filter(person_id__in=person_ids, category=category).values_list("person_id", flat=True))


def set_wanted(person, categories: list[str]) -> None:
    """`categories`: the values of the checked boxes; anything else is silenced."""
    known = {c.value for c in Category}
    for value in categories:
        if value not in known:
            raise PreferenceError("categories", _("categories: 知らない分類です（%(value)s）。") % {"value": value[:40]})
    with transaction.atomic():
        silenced = {c.value for c in SILENCEABLE} - set(categories)
        Silenced.objects.filter(person=person).exclude(category__in=silenced).delete()
        for value in sorted(silenced):
            Silenced.objects.get_or_create(person=person, category=value)
        record("notices.preferences_changed", actor=("resident", str(person.public_id)),
               data={"silenced": sorted(silenced)})


def categories_of(person) -> list[tuple[str, str, bool, bool]]:
    """(value, label, wanted, can be silenced) per category, for the account page."""
    wanted_now = wanted(person)
    return [(c.value, c.label, wanted_now[c.value], c != Category.EMERGENCY) for c in Category]
