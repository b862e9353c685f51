"""Data places (JSON pointers) named with the definition's labels, for staff pages:
`/children/0/mynumber` → 「子ども（1人目）の個人番号」."""

from django.utils.translation import gettext as _

from . import definition as defn
from .forms import text

# A group whose rows hold one of these is a list of people (「1人目」); otherwise items (「1件目」).
PERSON_WIDGETS = {"mynumber"}
PERSON_PREFILLS = {"name", "name_kana", "birth_date"}


def _is_people(group: dict) -> bool:
    return any(f.get("widget") in PERSON_WIDGETS or f.get("prefill") in PERSON_PREFILLS
               or f.get("name") in ("name", "birth_date", "mynumber") for f in group.get("fields", []))


def pointer_label(definition: dict, pointer: str) -> str:
    """The place's name as staff read it; the pointer itself when the definition has no such field."""
    parts = [p for p in (pointer or "").strip("/").split("/") if p != ""]
    if not parts or not isinstance(definition, dict):
        return pointer
    try:
        fields = {f["name"]: f for f in defn.iter_fields(definition)}
    except (KeyError, TypeError):
        return pointer
    field = fields.get(parts[0])
    if field is None:
        return pointer
    label = text(field.get("label")) or parts[0]
    rest = parts[1:]
    if not rest:
        return label
    if field.get("widget") == "group" and rest[0].isdigit():
        n = int(rest[0]) + 1
        row = (_("%(group)s（%(n)s人目）") if _is_people(field) else _("%(group)s（%(n)s件目）")) % {"group": label, "n": n}
        if len(rest) == 1:
            return row
        subs = {f["name"]: f for f in field.get("fields", [])}
        sub = subs.get(rest[1])
        if sub is None:
            return pointer
        return _("%(row)sの%(field)s") % {"row": row, "field": text(sub.get("label")) or rest[1]}
    if rest[0].isdigit() and len(rest) == 1:
        return _("%(field)s（%(n)s番目）") % {"field": label, "n": int(rest[0]) + 1}
    return pointer
