"""The procedure builder: a definition edited one element at a time, without JSON.

Each operation takes a definition (a dict in the stored format, see docs/applications.md)
and returns a changed deep copy; the views save it through `editor.update_draft` (rights,
audit). Only what the staff member changed is written: a form saved unchanged gives the
same definition back (tests/procedures/test_builder.py runs every catalog definition
through every form), so the parts the builder does not show (patterns, prefill, date
rules, eligibility…) survive. `problems()` explains `editor.publish_errors` in Japanese,
naming the section and the field.

Places in a definition: a top-level field is (section, field); a field of a repeatable
group is (section, field, sub-field), indexes from 0.
"""

import copy
import re

from django.utils.translation import gettext as _
from jsonschema import Draft202012Validator

from . import definition as defn
from .forms import text

# The kinds of field staff choose from (the resident's widgets), each with the data schema
# a new field of that kind gets.
WIDGETS = ("text", "textarea", "radio", "select", "checkboxes", "checkbox", "date", "number", "email", "tel",
           "postal_code", "mynumber", "group")
CHOICE_WIDGETS = ("radio", "select", "checkboxes")
TEL_PATTERN = "^0[0-9]{1,4}-?[0-9]{1,4}-?[0-9]{3,4}$"
POSTAL_PATTERN = "^[0-9]{3}-?[0-9]{4}$"


def new_schema(widget: str, values=()) -> dict:
    values = list(values)
    return {
        "text": {"type": "string", "minLength": 1, "maxLength": 200},
        "textarea": {"type": "string", "minLength": 1, "maxLength": 1000},
        "radio": {"type": "string", "enum": values},
        "select": {"type": "string", "enum": values},
        "checkboxes": {"type": "array", "uniqueItems": True, "items": {"type": "string", "enum": values}},
        "checkbox": {"type": "boolean"},
        "date": {"type": "string", "format": "date"},
        "number": {"type": "integer", "minimum": 0, "maximum": 100},
        "email": {"type": "string", "format": "email", "maxLength": 254},
        "tel": {"type": "string", "pattern": TEL_PATTERN},
        "postal_code": {"type": "string", "pattern": POSTAL_PATTERN},
        "mynumber": {"type": "string", "format": defn.MYNUMBER_FORMAT},
        "household_members": {"type": "array", "minItems": 1, "uniqueItems": True,
                              "items": {"type": "string", "minLength": 1, "maxLength": 40}},
        "group": {"type": "array", "minItems": 1, "maxItems": 5,
                  "items": {"type": "object", "additionalProperties": False, "properties": {}, "required": []}},
    }.get(widget, {"type": "string"})


# ---------------------------------------------------------------------------------------
# Finding things


def sections(d: dict) -> list:
    form = d.get("form") if isinstance(d.get("form"), dict) else {}
    return form.get("sections") if isinstance(form.get("sections"), list) else []


def field_at(d: dict, place: tuple):
    """(field, its schema, the schema object holding it, the list holding the field)."""
    section = sections(d)[place[0]]
    field = section["fields"][place[1]]
    holder = d["schema"]
    owner = section["fields"]
    if len(place) == 3:
        holder = holder.setdefault("properties", {}).setdefault(field["name"], new_schema("group")) \
            .setdefault("items", {"type": "object", "properties": {}})
        owner = field.setdefault("fields", [])
        field = owner[place[2]]
    schema = holder.setdefault("properties", {}).get(field["name"])
    return field, schema if isinstance(schema, dict) else {}, holder, owner


def all_names(d: dict) -> list[str]:
    return [f.get("name", "") for s in sections(d) for f in s.get("fields", [])]


def _free_name(taken, stem="field") -> str:
    n = 1
    while f"{stem}_{n}" in taken:
        n += 1
    return f"{stem}_{n}"


def where(d: dict, place: tuple) -> str:
    """「セクション2『申請する人』の項目『電話番号』」"""
    try:
        section = sections(d)[place[0]]
        out = _("セクション%(n)s『%(title)s』") % {"n": place[0] + 1, "title": text(section.get("title"))}
        if len(place) >= 2:
            field = section["fields"][place[1]]
            out += _("の項目『%(label)s』") % {"label": text(field.get("label")) or field.get("name", "")}
        if len(place) == 3:
            sub = field["fields"][place[2]]
            out += _("の『%(label)s』") % {"label": text(sub.get("label")) or sub.get("name", "")}
        return out
    except (IndexError, KeyError, TypeError):
        return _("セクション%(n)s") % {"n": place[0] + 1}


def place_of_name(d: dict, name: str, sub: str | None = None):
    for i, s in enumerate(sections(d)):
        for j, f in enumerate(s.get("fields", [])):
            if f.get("name") == name:
                if sub is None:
                    return (i, j)
                for k, g in enumerate(f.get("fields", [])):
                    if g.get("name") == sub:
                        return (i, j, k)
                return (i, j)
    return None


# ---------------------------------------------------------------------------------------
# Sections


def add_section(d: dict, title_ja: str, title_en: str) -> dict:
    d = copy.deepcopy(d)
    d.setdefault("form", {}).setdefault("sections", [])
    ids = {s.get("id") for s in sections(d)}
    d["form"]["sections"].append({"id": _free_name(ids, "section"), "title": {"ja": title_ja, "en": title_en},
                                  "fields": []})
    return d


def section_initial(d: dict, i: int) -> dict:
    s = sections(d)[i]
    return {"title_ja": (s.get("title") or {}).get("ja", ""), "title_en": (s.get("title") or {}).get("en", ""),
            "help_ja": (s.get("help") or {}).get("ja", ""), "help_en": (s.get("help") or {}).get("en", "")}


def update_section(d: dict, i: int, values: dict) -> dict:
    before = section_initial(d, i)
    d = copy.deepcopy(d)
    s = sections(d)[i]
    if (values["title_ja"], values["title_en"]) != (before["title_ja"], before["title_en"]):
        s["title"] = {"ja": values["title_ja"], "en": values["title_en"]}
    if (values["help_ja"], values["help_en"]) != (before["help_ja"], before["help_en"]):
        if values["help_ja"] or values["help_en"]:
            s["help"] = {"ja": values["help_ja"], "en": values["help_en"]}
        else:
            s.pop("help", None)
    return d


def move(items: list, i: int, delta: int) -> bool:
    j = i + delta
    if 0 <= i < len(items) and 0 <= j < len(items):
        items[i], items[j] = items[j], items[i]
        return True
    return False


def move_section(d: dict, i: int, delta: int) -> dict:
    d = copy.deepcopy(d)
    move(sections(d), i, delta)
    return d


def remove_section(d: dict, i: int) -> dict:
    d = copy.deepcopy(d)
    for j in reversed(range(len(sections(d)[i].get("fields", [])))):
        d = remove_field(d, (i, j))
    del d["form"]["sections"][i]
    return d


# ---------------------------------------------------------------------------------------
# Fields


def add_field(d: dict, place: tuple, widget: str, label_ja: str, label_en: str = "") -> tuple[dict, tuple]:
    """A new field at the end of section place[0] (or of the group at place[:2])."""
    d = copy.deepcopy(d)
    d.setdefault("schema", {"type": "object", "properties": {}}).setdefault("properties", {})
    if len(place) == 1:
        owner = sections(d)[place[0]].setdefault("fields", [])
        holder = d["schema"]
        taken = all_names(d) + list(holder["properties"])
    else:
        group, _schema, _holder, _owner = field_at(d, place[:2])
        owner = group.setdefault("fields", [])
        holder = d["schema"]["properties"][group["name"]].setdefault("items", {"type": "object"})
        holder.setdefault("properties", {})
        taken = [f["name"] for f in owner] + list(holder["properties"])
    name = _free_name(set(taken))
    field = {"name": name, "label": {"ja": label_ja, "en": label_en or label_ja}}
    if widget != "text":
        field["widget"] = widget
    if widget == "group":
        field["fields"] = []
    owner.append(field)
    holder["properties"][name] = new_schema(widget)
    _sync_household_selection(d)
    return d, (*place, len(owner) - 1) if len(place) == 2 else (place[0], len(owner) - 1)


def _sync_household_selection(d: dict) -> None:
    """`household_selection` follows the form: on while a field chooses household members
    (the resident then sees their household to choose from), off when none is left."""
    chooses = any(f.get("widget") == "household_members" for s in sections(d) for f in s.get("fields", []))
    if chooses and not d.get("household_selection"):
        d["household_selection"] = True
    elif not chooses and d.get("household_selection"):
        d["household_selection"] = False


def _required_list(holder: dict) -> list:
    return holder["required"] if isinstance(holder.get("required"), list) else []


def field_initial(d: dict, place: tuple) -> dict:
    field, schema, holder, _owner = field_at(copy.deepcopy(d), place)
    widget = field.get("widget", "text")
    condition = field.get("show_if")
    return {
        "name": field["name"], "widget": widget,
        "label_ja": (field.get("label") or {}).get("ja", ""), "label_en": (field.get("label") or {}).get("en", ""),
        "help_ja": (field.get("help") or {}).get("ja", ""), "help_en": (field.get("help") or {}).get("en", ""),
        "required": field["name"] in _required_list(holder),
        "max_length": schema.get("maxLength") if widget in ("text", "textarea") else None,
        "minimum": schema.get("minimum") if widget == "number" else None,
        "maximum": schema.get("maximum") if widget == "number" else None,
        "min_rows": schema.get("minItems") if widget == "group" else None,
        "max_rows": schema.get("maxItems") if widget == "group" else None,
        "choices": [{"value": str(c.get("value")), "label_ja": (c.get("label") or {}).get("ja", ""),
                     "label_en": (c.get("label") or {}).get("en", "")} for c in field.get("choices", [])],
        "condition": condition_key(condition) if condition else "",
        # The dates accepted, in days from the day of application (date fields of a section).
        "min_days": _date_rule(d, field["name"]).get("min_days") if widget == "date" and len(place) == 2 else None,
        "max_days": _date_rule(d, field["name"]).get("max_days") if widget == "date" and len(place) == 2 else None,
    }


def _date_rule(d: dict, name: str) -> dict:
    return next((r for r in d.get("date_rules", []) if isinstance(r, dict) and r.get("field") == name), {})


def condition_key(condition: dict) -> str:
    """A condition as one option value: field=value (equals) or field=a|b (in)."""
    if "in" in condition:
        return f"{condition.get('field')}={'|'.join(_token(v) for v in condition['in'])}"
    return f"{condition.get('field')}={_token(condition.get('equals'))}"


def _token(value) -> str:
    return {True: "true", False: "false"}.get(value, str(value)) if isinstance(value, bool) else str(value)


def condition_choices(d: dict, place: tuple) -> list[tuple[str, str]]:
    """Every condition a top-level field may have: another choice field has one of its
    values, or a check box is ticked."""
    if len(place) != 2:
        return []
    me = sections(d)[place[0]]["fields"][place[1]]["name"]
    out = []
    for s in sections(d):
        for f in s.get("fields", []):
            if f.get("name") == me:
                continue
            label = text(f.get("label")) or f.get("name")
            if f.get("widget") in ("radio", "select"):
                for c in f.get("choices", []):
                    out.append((f"{f['name']}={_token(c.get('value'))}",
                                _("『%(field)s』が「%(choice)s」のとき") % {"field": label, "choice": text(c.get("label"))}))
            elif f.get("widget") == "checkbox":
                out.append((f"{f['name']}=true", _("『%(field)s』にチェックがあるとき") % {"field": label}))
    return out


def _condition_from_key(d: dict, key: str, old: dict | None) -> dict:
    name, _sep, raw = key.partition("=")
    fields = {f.get("name"): f for s in sections(d) for f in s.get("fields", [])}
    typed = {_token(c.get("value")): c.get("value") for c in fields.get(name, {}).get("choices", [])}
    if fields.get(name, {}).get("widget") == "checkbox":
        typed = {"true": True, "false": False}
    if old:
        typed.update({_token(v): v for v in ([old.get("equals")] if "equals" in old else old.get("in", []))})
    values = [typed.get(v, v) for v in raw.split("|")]
    return {"field": name, "equals": values[0]} if len(values) == 1 else {"field": name, "in": values}


def update_field(d: dict, place: tuple, values: dict) -> dict:
    """Writes the changed values of the field form; the unchanged ones stay as stored."""
    before = field_initial(d, place)
    d = copy.deepcopy(d)
    field, schema, holder, _owner = field_at(d, place)
    changed = {k for k in values if k in before and values[k] != before[k]}
    if {"label_ja", "label_en"} & changed:
        field["label"] = {"ja": values["label_ja"], "en": values["label_en"]}
    if {"help_ja", "help_en"} & changed:
        if values["help_ja"] or values["help_en"]:
            field["help"] = {"ja": values["help_ja"], "en": values["help_en"]}
        else:
            field.pop("help", None)
    widget = values.get("widget", before["widget"])
    if "widget" in changed:
        if widget == "text":
            field.pop("widget", None)
        else:
            field["widget"] = widget
        if widget not in CHOICE_WIDGETS:
            field.pop("choices", None)
        if widget != "group":
            field.pop("fields", None)
        elif "fields" not in field:
            field["fields"] = []
        schema = new_schema(widget, [c.get("value") for c in field.get("choices", [])])
        holder.setdefault("properties", {})[field["name"]] = schema
    if "choices" in changed or ("widget" in changed and widget in CHOICE_WIDGETS):
        old = {_token(c.get("value")): c.get("value") for c in field.get("choices", [])}
        choices = [{"value": old.get(c["value"], c["value"]), "label": {"ja": c["label_ja"], "en": c["label_en"] or c["label_ja"]}}
                   for c in values.get("choices", [])]
        if choices:
            field["choices"] = choices
        else:
            field.pop("choices", None)
        enum = [c["value"] for c in choices]
        if widget == "checkboxes":
            schema.setdefault("items", {"type": "string"})["enum"] = enum
        else:
            schema["enum"] = enum
    for key, schema_key in (("max_length", "maxLength"), ("minimum", "minimum"), ("maximum", "maximum"),
                            ("min_rows", "minItems"), ("max_rows", "maxItems")):
        if key in changed or ("widget" in changed and values.get(key) is not None):
            if values.get(key) is None:
                schema.pop(schema_key, None)
            else:
                schema[schema_key] = values[key]
    if "required" in changed:
        required = _required_list(holder)
        if values["required"] and field["name"] not in required:
            holder["required"] = required + [field["name"]]
        elif not values["required"] and field["name"] in required:
            holder["required"] = [n for n in required if n != field["name"]]
    if "condition" in changed:
        if values["condition"]:
            field["show_if"] = _condition_from_key(d, values["condition"], field.get("show_if"))
        else:
            field.pop("show_if", None)
    if {"min_days", "max_days"} & changed and len(place) == 2:
        rules = [r for r in d.get("date_rules", []) if not (isinstance(r, dict) and r.get("field") == field["name"])]
        rule = {"field": field["name"], **{k: values[k] for k in ("min_days", "max_days") if values.get(k) is not None}}
        at = next((i for i, r in enumerate(d.get("date_rules", [])) if isinstance(r, dict)
                   and r.get("field") == field["name"]), len(rules))
        if len(rule) > 1:
            rules.insert(at, rule)
        if rules:
            d["date_rules"] = rules
        else:
            d.pop("date_rules", None)
    if "name" in changed and values["name"]:
        d = rename(d, place, values["name"])
    if "widget" in changed:
        _sync_household_selection(d)
    return d


def rename(d: dict, place: tuple, new: str) -> dict:
    """A field's identifier changed, with everything that refers to it."""
    field, _schema, holder, _owner = field_at(d, place)
    old = field["name"]
    if old == new:
        return d
    field["name"] = new
    props = holder.get("properties", {})
    if old in props:
        holder["properties"] = {(new if k == old else k): v for k, v in props.items()}
    if old in _required_list(holder):
        holder["required"] = [new if n == old else n for n in holder["required"]]
    if len(place) == 2:
        for s in sections(d):
            for f in s.get("fields", []):
                if (f.get("show_if") or {}).get("field") == old:
                    f["show_if"]["field"] = new
        for item in (d.get("fee") or {}).get("items", []):
            if item.get("field") == old:
                item["field"] = new
        for rule in d.get("date_rules", []):
            if rule.get("field") == old:
                rule["field"] = new
        prefix = f"/{old}"
    else:
        group = sections(d)[place[0]]["fields"][place[1]]["name"]
        prefix = None
        for column in d.get("export", []):
            parts = column.get("pointer", "").split("/")
            if len(parts) >= 4 and parts[1] == group and parts[3] == old:
                parts[3] = new
                column["pointer"] = "/".join(parts)
    if prefix:
        for column in d.get("export", []):
            pointer = column.get("pointer", "")
            if pointer == prefix or pointer.startswith(prefix + "/"):
                column["pointer"] = f"/{new}" + pointer[len(prefix):]
    return d


def move_field(d: dict, place: tuple, delta: int) -> dict:
    d = copy.deepcopy(d)
    _field, _schema, _holder, owner = field_at(d, place)
    move(owner, place[-1], delta)
    return d


def remove_field(d: dict, place: tuple) -> dict:
    """The field, its data schema and its place in `required`; conditions, fees and
    export columns that named it are left for the problems list to point at."""
    d = copy.deepcopy(d)
    field, _schema, holder, owner = field_at(d, place)
    del owner[place[-1]]
    if field["name"] in holder.get("properties", {}) and field["name"] not in [f.get("name") for f in owner]:
        del holder["properties"][field["name"]]
        if field["name"] in _required_list(holder):
            holder["required"] = [n for n in holder["required"] if n != field["name"]]
    _sync_household_selection(d)
    return d


# ---------------------------------------------------------------------------------------
# Attachments, fee items, export columns


def attachments_initial(d: dict) -> dict:
    a = d.get("attachments") if isinstance(d.get("attachments"), dict) else {}
    return {"max_count": a.get("max_count", 0), "min_count": a.get("min_count", 0),
            "max_mb": round(a.get("max_bytes", 5 * 1048576) / 1048576, 1), "types": list(a.get("types", [])),
            "label_ja": (a.get("label") or {}).get("ja", ""), "label_en": (a.get("label") or {}).get("en", "")}


def update_attachments(d: dict, values: dict) -> dict:
    before = attachments_initial(d)
    changed = {k for k in values if k in before and values[k] != before[k]}
    d = copy.deepcopy(d)
    if not changed:
        return d
    if not values["max_count"] and not values["min_count"]:
        d.pop("attachments", None)
        return d
    a = d.setdefault("attachments", {"max_count": 0, "max_bytes": 5 * 1048576, "types": []})
    if "max_count" in changed or "max_count" not in a:
        a["max_count"] = values["max_count"]
    if "min_count" in changed:
        if values["min_count"]:
            a["min_count"] = values["min_count"]
        else:
            a.pop("min_count", None)
    if "max_mb" in changed or a.get("max_bytes", 0) < 1024:
        a["max_bytes"] = max(1, int((values["max_mb"] or 5) * 1048576))
    if "types" in changed:
        a["types"] = list(values["types"])
    if {"label_ja", "label_en"} & changed:
        if values["label_ja"] or values["label_en"]:
            a["label"] = {"ja": values["label_ja"], "en": values["label_en"] or values["label_ja"]}
        else:
            a.pop("label", None)
    return d


def fee_items_initial(d: dict) -> list[dict]:
    fee = d.get("fee") if isinstance(d.get("fee"), dict) else {}
    return [{"field": i.get("field", ""), "yen": i.get("yen"), "label_ja": (i.get("label") or {}).get("ja", ""),
             "label_en": (i.get("label") or {}).get("en", "")} for i in fee.get("items", [])]


def update_fee_items(d: dict, rows: list[dict]) -> dict:
    if rows == fee_items_initial(d):
        return copy.deepcopy(d)
    d = copy.deepcopy(d)
    items = []
    for row in rows:
        item = {"field": row["field"], "yen": row["yen"]}
        if row["label_ja"] or row["label_en"]:
            item["label"] = {"ja": row["label_ja"], "en": row["label_en"] or row["label_ja"]}
        items.append(item)
    fee = d.setdefault("fee", {"kind": "per_copy"})
    if items:
        fee["items"] = items
    else:
        fee.pop("items", None)
    return d


def number_fields(d: dict) -> list[tuple[str, str]]:
    props = (d.get("schema") or {}).get("properties", {})
    return [(f["name"], text(f.get("label")) or f["name"]) for s in sections(d) for f in s.get("fields", [])
            if (props.get(f.get("name")) or {}).get("type") == "integer"]


def export_initial(d: dict) -> list[dict]:
    return [{"column": c.get("column", ""), "pointer": c.get("pointer", "")} for c in d.get("export", [])]


def update_export(d: dict, rows: list[dict]) -> dict:
    if rows == export_initial(d):
        return copy.deepcopy(d)
    d = copy.deepcopy(d)
    if rows:
        d["export"] = [{"column": r["column"], "pointer": r["pointer"]} for r in rows]
    else:
        d.pop("export", None)
    return d


def export_places(d: dict) -> list[tuple[str, str]]:
    """The data places an export column may take (never an individual number)."""
    out = []
    for s in sections(d):
        for f in s.get("fields", []):
            if f.get("widget") == "mynumber":
                continue
            out.append((f"/{f['name']}", text(f.get("label")) or f["name"]))
            if f.get("widget") == "group":
                for n in range(3):
                    for g in f.get("fields", []):
                        if g.get("widget") != "mynumber":
                            out.append((f"/{f['name']}/{n}/{g['name']}",
                                        _("%(group)s（%(n)s件目）の%(field)s") % {
                                            "group": text(f.get("label")), "n": n + 1, "field": text(g.get("label"))}))
    for c in d.get("export", []):  # a place the list does not offer stays choosable
        if c.get("pointer") and c["pointer"] not in {p for p, _label in out}:
            out.append((c["pointer"], c["pointer"]))
    return out


def drawable(d: dict) -> dict:
    """A copy the resident's renderer can draw while the draft is unfinished: a choice
    field without choices yet shows none, a group without fields shows empty rows."""
    d = copy.deepcopy(d)
    for s in sections(d):
        for f in s.get("fields", []) if isinstance(s.get("fields"), list) else []:
            for g in [f, *f.get("fields", [])] if isinstance(f, dict) else []:
                if isinstance(g, dict) and g.get("widget") in CHOICE_WIDGETS:
                    g.setdefault("choices", [])
                if isinstance(g, dict) and g.get("widget") == "group":
                    g.setdefault("fields", [])
    return d


# ---------------------------------------------------------------------------------------
# Problems in Japanese, naming the field


# The metaschema checks whose Japanese message is the whole story (no English detail shown).
_META_SPECIFIC = {"required", "minLength", "minItems", "maxLength", "pattern", "minimum", "maximum", "uniqueItems"}


def _meta_message(error) -> str:
    kind, limit = error.validator, error.validator_value
    if kind == "required":
        missing = [n for n in limit if not isinstance(error.instance, dict) or n not in error.instance]
        return _("「%(name)s」を入力してください。") % {"name": "、".join(_key_name(n) for n in missing)}
    if kind == "minLength":
        return _("入力してください。")
    if kind == "minItems":
        if error.absolute_path and error.absolute_path[-1] == "choices":
            return _("選択肢を1つ以上入力してください。")
        if error.absolute_path and error.absolute_path[-1] == "fields":
            return _("項目を1つ以上追加してください。")
        if error.absolute_path and error.absolute_path[-1] == "sections":
            return _("セクションを1つ以上追加してください。")
        return _("1つ以上入力してください。")
    if kind == "maxLength":
        return _("%(n)s文字以内にしてください。") % {"n": limit}
    if kind == "pattern":
        last = error.absolute_path[-1] if error.absolute_path else ""
        if last in ("name", "field", "id"):
            return _("識別名は半角英小文字で始め、半角英小文字・数字・「_」で入力してください。")
        return _("形式が正しくありません。")
    if kind in ("enum", "const"):
        return _("選べる値ではありません。")
    if kind == "type":
        return _("値の種類が正しくありません。")
    if kind in ("minimum", "maximum"):
        return _("%(n)s以上にしてください。") % {"n": limit} if kind == "minimum" else \
            _("%(n)s以下にしてください。") % {"n": limit}
    if kind == "additionalProperties":
        return _("この形式にない設定があります（上級者向けのJSONで確認してください）。")
    if kind == "uniqueItems":
        return _("同じ値が重複しています。")
    return _("設定を確かめてください。")


def _key_name(key: str) -> str:
    return {"label": _("名称"), "title": _("見出し"), "fields": _("項目"), "choices": _("選択肢"),
            "ja": _("日本語"), "en": _("英語"), "name": _("識別名"), "yen": _("金額"), "field": _("項目"),
            "legal_basis": _("根拠法令"), "department": _("担当課"), "column": _("列名"), "pointer": _("データ")}.get(key, key)


_BASIC_PLACES = {
    "title": "名称", "description": "説明", "department": "担当課", "legal_basis": "根拠法令", "retention": "保存期間",
    "assurance": "必要な本人確認", "fee": "手数料", "open_period": "受付期間", "attachments": "添付書類",
    "export": "基幹連携の出力", "eligibility": "申請できる人", "mynumber_task": "個人番号利用事務",
    "one_open_per": "同時に申請できる数", "household_selection": "世帯員の選択", "date_rules": "日付の条件",
    "keywords": "検索語", "slug": "識別名", "schema": "データの定義", "form": "入力画面", "format": "形式",
}


def _basic_place(part: str) -> str:
    return _(_BASIC_PLACES[part]) if part in _BASIC_PLACES else part


def _place_from_path(d: dict, parts: list):
    """(words, place or None) for a path into the definition."""
    if len(parts) >= 3 and parts[0] == "form" and parts[1] == "sections" and isinstance(parts[2], int):
        place = [parts[2]]
        if len(parts) >= 5 and parts[3] == "fields" and isinstance(parts[4], int):
            place.append(parts[4])
            if len(parts) >= 7 and parts[5] == "fields" and isinstance(parts[6], int):
                place.append(parts[6])
        return where(d, tuple(place)), tuple(place)
    if len(parts) >= 3 and parts[0] == "form" and parts[1] == "fields":
        place = place_of_name(d, str(parts[2]), str(parts[3]) if len(parts) >= 4 else None)
        return (where(d, place), place) if place else (str(parts[2]), None)
    if len(parts) >= 3 and parts[0] == "schema" and parts[1] == "properties":
        place = place_of_name(d, str(parts[2]))
        return (where(d, place), place) if place else (_("データの定義『%(name)s』") % {"name": parts[2]}, None)
    if parts and parts[0] == "fee" and len(parts) >= 3 and parts[1] == "items":
        return _("手数料の内訳%(n)s行目") % {"n": int(parts[2]) + 1}, None
    if parts and parts[0] == "export" and len(parts) >= 2 and str(parts[1]).isdigit():
        return _("基幹連携の出力の%(n)s列目") % {"n": int(parts[1]) + 1}, None
    if parts:
        return _basic_place(str(parts[0])), None
    return _("手続き全体"), None


# Consistency messages of definition.py ("where: what") in Japanese, by their English text.
_CONSISTENCY = [
    (r"a (select|radio|checkboxes) needs choices", "選択肢を1つ以上入力してください。"),
    (r"the schema needs an enum of the choice values", "選択肢を1つ以上入力してください。"),
    (r"the choices and the schema's enum differ", "選択肢とデータの定義が一致していません（上級者向けのJSONで確認してください）。"),
    (r"refers to an unknown field", "表示する条件の項目がありません。条件を選び直してください。"),
    (r"give exactly one of equals / in", "表示する条件を選び直してください。"),
    (r"field .* appears twice", "同じ識別名の項目が2つあります。識別名を変えてください。"),
    (r"no form field presents it", "入力画面に項目がありません（上級者向けのJSONで確認してください）。"),
    (r"no property .* in the (schema|items)", "データの定義がありません（上級者向けのJSONで確認してください）。"),
    (r"a group needs fields", "繰り返しの中に項目を1つ以上追加してください。"),
    (r"a group presents an array of objects", "繰り返しのデータの定義が正しくありません。"),
    (r"only a group has fields", "繰り返し以外の項目は中に項目を持てません。"),
    (r"a mynumber field needs format", "個人番号の項目のデータの定義が正しくありません。"),
    (r"an individual number is shown only by the mynumber widget", "個人番号は「個人番号」の種類の項目でだけ扱えます。"),
    (r"individual number fields are allowed only", "個人番号の項目は、番号法の個人番号利用事務の手続きでだけ使えます（上級者向けのJSONで個人番号利用事務を宣言してください）。"),
    (r"declared, but no field has format", "個人番号利用事務が宣言されていますが、個人番号の項目がありません。"),
    (r"must be an integer property", "手数料の通数には「数」の項目を選んでください。"),
    (r"needs a minimum of 0 or more", "手数料の通数の項目は、最小値を0以上にしてください。"),
    (r"only a per_copy fee has items", "内訳は「1通ごと」の手数料だけに使えます。"),
    (r"is not a property", "出力するデータの項目がありません。選び直してください。"),
    (r"individual numbers are never exported", "個人番号は通常の出力に含められません。"),
    (r"is not a date", "日付を正しく入力してください。"),
    (r"from is after until", "受付終了日は開始日より後にしてください。"),
    (r"min_count is over max_count", "最少の件数が最大の件数を超えています。"),
    (r"no allowed type", "受け付けるファイルの種類を1つ以上選んでください。"),
    (r"min_age is over max_age", "下限の年齢が上限を超えています。"),
    (r"must be a property with format date", "日付の条件には日付の項目を選んでください。"),
    (r"min_days is over max_days", "日付の条件の下限が上限を超えています。"),
    (r"needs a field with widget household_members", "世帯員を選ぶ項目がありません。"),
    (r"a household_members field needs household_selection", "世帯員を選ぶ項目には世帯員の選択の設定が必要です。"),
    (r"household needs eligibility.residents_only", "世帯ごとの制限には、住民だけが申請できる設定が必要です。"),
    (r"is not a department of this municipality", "この自治体にない担当課です。担当課を選び直してください。"),
    (r"not a valid JSON Schema", "データの定義がJSON Schemaとして正しくありません（上級者向けのJSONで確認してください）。"),
    (r"lone surrogate", "保存できない文字が含まれています。"),
    (r"a definition is at most", "定義が大きすぎます。"),
    (r"a definition is a JSON object", "定義の形式が正しくありません。"),
]


def _pointer_parts(pointer: str) -> list:
    return [int(p) if p.isdigit() else p for p in pointer.strip("/").split("/") if p]


def problems(errors: list[str], d) -> list[dict]:
    """`editor.publish_errors` as {"where", "message", "place", "raw", "explained"}: Japanese,
    one per error (so the count is the same), naming the section and field. `explained` is
    False where the Japanese says no more than 「確かめてください」: only then does the page
    add the validator's English (`raw`) for a publisher who edits the JSON."""
    if not isinstance(d, dict):
        return [{"where": _("手続き全体"), "message": _("定義の形式が正しくありません。"), "place": None, "raw": e,
                 "explained": False} for e in errors]
    meta = sorted(Draft202012Validator(defn.metaschema()).iter_errors(d), key=lambda e: list(e.path))
    out = []
    if meta and len(meta) == len(errors):
        for e in meta:
            words, place = _place_from_path(d, list(e.absolute_path))
            out.append({"where": words, "message": _meta_message(e), "place": place,
                        "raw": f"/{'/'.join(map(str, e.absolute_path))}: {e.message}",
                        "explained": e.validator in _META_SPECIFIC})
        return out
    for line in errors:
        parsed = re.match(r"^line (\d+) column (\d+): not JSON: (.*)$", line)
        if parsed:
            out.append({"where": _("定義全体（JSON）"), "message": _("%(line)s行目%(column)s列目がJSONとして読めません（%(why)s）。")
                        % {"line": parsed[1], "column": parsed[2], "why": parsed[3]}, "place": None, "raw": line,
                        "explained": True})
            continue
        path, _sep, what = line.partition(": ")
        words, place = _place_from_path(d, _pointer_parts(path)) if path.startswith("/") else (_("手続き全体"), None)
        message = next((_(ja) for pattern, ja in _CONSISTENCY if re.search(pattern, what)), None)
        out.append({"where": words, "message": message or _("設定を確かめてください。"), "place": place, "raw": line,
                    "explained": message is not None})
    return out
