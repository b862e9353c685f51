"""The form of a procedure definition: fields to show, values read from a POST.

The resident's form follows the GOV.UK / Digital Agency pattern (docs/applications.md,
"The resident's form"): what a resident types is normalised before it is validated (the
width of a digit, a hyphen's variant, spaces in kana never refuse an answer); every problem
names its field and is listed, linked to the field, in the summary at the top; a
conditional field is shown only while its condition holds (the static form.js hides it;
without JavaScript it is shown with a note saying when to fill it, and the server ignores
it while its condition is false); a repeatable group starts with one block and grows by an
「追加」 button (a submit button without JavaScript, in place with it); every formatted field
has a hint.
"""

import datetime as dt
import json
import re
import unicodedata

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from madoguchi.core.dates import format_legal_date, parse_legal_date, today_in_japan
from madoguchi.procedures import definition as defn

ADD_ROW = "add_row"  # the name of a group's 「追加」 submit button (its value: the group's name)
REMOVE_ROW = "remove_row"  # a block's 「削除」 button (its value: group-index)
MAX_ROWS = 100  # blocks read from one POST at most (a schema's maxItems reports fewer)

# Characters a resident types for a hyphen between digits (after NFKC, which already turns
# the full-width － and ﹣ into "-"): hyphen, non-breaking hyphen, figure dash, en and em dash,
# horizontal bar, minus sign, and the long-vowel mark a Japanese IME types for "-".
HYPHENS = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70-"
_HYPHEN = re.compile(f"[{re.escape(HYPHENS)}]")
_SPACES = re.compile(r"\s+")


def lang() -> str:
    return "en" if (get_language() or "ja").startswith("en") else "ja"


def text(value: dict | None) -> str:
    return (value or {}).get(lang(), "") if isinstance(value, dict) else ""


# ---------------------------------------------------------------------------------------
# Normalising what a resident types


def kind_of(field: dict, schema: dict) -> str:
    """How a field's input is normalised: mynumber, code (digits and hyphens: phone, postal
    code, any pattern of ASCII), kana, date, integer, email, or text (kept as typed)."""
    widget = field.get("widget", "text")
    if widget == "mynumber" or schema.get("format") == defn.MYNUMBER_FORMAT:
        return "mynumber"
    if widget == "date" or schema.get("format") == "date":
        return "date"
    if widget == "email" or schema.get("format") == "email":
        return "email"
    if widget == "number" or schema.get("type") == "integer":
        return "integer"
    pattern = schema.get("pattern") or ""
    if defn.KANA_MARK in pattern or "ァ" in pattern or "ぁ" in pattern:
        return "kana"
    if widget in ("tel", "postal_code") or pattern:
        return "code"
    return "text"


def normalize(kind: str, raw: str, pattern: str = "") -> str:
    """One typed value as the validator expects it; a value that cannot be made so is
    returned (normalised as far as it goes) for the validator to report."""
    value = raw.strip()
    if kind == "text" or value == "":
        return value
    value = unicodedata.normalize("NFKC", value).strip()  # full-width digits, letters, ＠, half-width kana
    if kind == "mynumber":
        return _SPACES.sub("", _HYPHEN.sub("", value))
    if kind == "integer":
        return _SPACES.sub("", value).replace(",", "")
    if kind == "email":
        return _SPACES.sub("", value)
    if kind == "date":
        try:
            return parse_legal_date(_SPACES.sub("", value)).isoformat()
        except ValueError:
            return value
    if kind == "kana":
        # NFKC made half-width kana full-width and the ideographic space a space; words are
        # separated by one space of the kind the pattern takes (full-width first).
        space = "　" if "　" in pattern else (" " if " " in pattern or "\\s" in pattern else "")
        value = re.sub(r"(?<=[ァ-ヺ])[\u2010-\u2015\u2212-]", "ー", value)  # a hyphen typed for ー
        return _SPACES.sub(space, value)
    # code: phone numbers, postal codes, bank codes…
    value = value.lstrip("〒").strip()
    value = re.sub(r"[()]", "-", value)
    ranges_removed = re.sub(r"(?<=[0-9A-Za-z])-(?=[0-9A-Za-z])", "", pattern)  # [0-9] is no hyphen
    if "-" in ranges_removed or not pattern:
        value = _HYPHEN.sub("-", _SPACES.sub("", value))
        value = re.sub(r"-{2,}", "-", value).strip("-")
    else:
        value = _HYPHEN.sub("", _SPACES.sub("", value))
    return value


def _value(field: dict, schema: dict, post, name: str):
    widget = field.get("widget", "text")
    if widget in ("checkboxes", "household_members"):
        values = post.getlist(name)
        return values or None
    if widget == "checkbox":
        return post.get(name) == "on"
    raw = post.get(name, "")
    raw = normalize(kind_of(field, schema), raw, schema.get("pattern") or "") if isinstance(raw, str) else ""
    if raw == "":
        return None
    if schema.get("type") == "integer":
        try:
            return int(raw)
        except ValueError:
            return raw  # the schema reports it
    if schema.get("type") == "boolean":
        return raw == "true"
    return raw


def _row_indexes(post, name: str) -> list[int]:
    """The blocks of a group present in a POST (their inputs are named name-i-field), in order."""
    found = re.compile(rf"^{re.escape(name)}-(\d{{1,4}})-")
    indexes = sorted({int(m[1]) for key in post.keys() if (m := found.match(key))})
    removed = post.get(REMOVE_ROW, "")
    return [i for i in indexes if f"{name}-{i}" != removed][:MAX_ROWS]


def read(definition: dict, post) -> dict:
    """Data from a POST, normalised: empty fields are left out (so "required" reports them),
    and so is a group's empty block (and one whose 「削除」 button was pressed)."""
    props = definition["schema"].get("properties", {})
    data = {}
    for field in defn.iter_fields(definition):
        schema = props.get(field["name"], {})
        if field.get("widget") == "group":
            items = schema.get("items", {})
            rows = []
            for i in _row_indexes(post, field["name"]):
                row = {}
                for sub in field["fields"]:
                    value = _value(sub, items.get("properties", {}).get(sub["name"], {}), post,
                                   f"{field['name']}-{i}-{sub['name']}")
                    if value is not None and value is not False:
                        row[sub["name"]] = value
                if row:
                    for sub in field["fields"]:
                        if sub.get("widget") == "checkbox":
                            row.setdefault(sub["name"], False)
                    rows.append(row)
            if rows:
                data[field["name"]] = rows
            continue
        value = _value(field, schema, post, field["name"])
        if value is not None:
            data[field["name"]] = value
    return data


def group_action(definition: dict, post, values: dict) -> dict | None:
    """When the POST pressed a group's 「追加」 or 「削除」 button (without JavaScript), the
    values to show again with one more (or one fewer) block; None for an ordinary POST.
    Nothing is validated or stored for such a POST."""
    groups = {f["name"]: f for f in defn.iter_fields(definition) if f.get("widget") == "group"}
    added, removed = post.get(ADD_ROW), post.get(REMOVE_ROW, "")
    if added in groups:
        rows = list(values.get(added) or []) or [{}]  # the form showed one block, empty
        limit = definition["schema"].get("properties", {}).get(added, {}).get("maxItems", MAX_ROWS)
        return {**values, added: rows + [{}] if len(rows) < limit else rows}
    if removed.rsplit("-", 1)[0] in groups:
        return values
    return None


# ---------------------------------------------------------------------------------------
# The bound form: what the templates show


class Form(list):
    """The bound sections, with `problems`: every error in the form's order, each with the
    id of the input its link in the error summary focuses."""

    problems: list


def _condition(field: dict, fields: dict, schema_required: set) -> dict | None:
    condition = field.get("show_if")
    if not condition:
        return None
    controller = fields.get(condition["field"], {})
    values = [condition["equals"]] if "equals" in condition else list(condition["in"])
    labels = {c["value"]: text(c["label"]) for c in controller.get("choices", [])}
    if controller.get("widget") == "checkbox" and values == [True]:
        note = _("「%(field)s」にチェックを入れた場合に入力してください。") % {"field": text(controller.get("label"))}
    else:
        note = _("「%(field)s」で「%(choice)s」を選んだ場合に入力してください。") % {
            "field": text(controller.get("label")),
            "choice": _("」または「").join(str(labels.get(v, v)) for v in values)}
    return {"field": condition["field"], "values": json.dumps([_js(v) for v in values]), "note": note,
            "id": f"f-{field['name'].replace('_', '-')}-condition"}


def _js(value) -> str:
    """A condition's value as the browser reads its input: a checkbox is "true"/"false"."""
    return "true" if value is True else "false" if value is False else str(value)


def _conditionally_required(schema: dict) -> set:
    """Names a schema requires under an if/then (a conditional field required when shown)."""
    found = set()
    for part in [schema, *(schema.get("allOf") or [])]:
        if isinstance(part, dict) and isinstance(part.get("then"), dict):
            found |= set(part["then"].get("required") or [])
    return found


def _hint(field: dict, schema: dict, rules: dict, today: dt.date) -> str:
    """The format hint of a field (shown after its own help): an example, the digits, the
    dates accepted today as 和暦 dates."""
    widget = field.get("widget", "text")
    kind = kind_of(field, schema)
    if kind == "mynumber":
        return _("12桁の数字です。スペースやハイフンで区切っても、全角でも入力できます。")
    if widget == "tel":
        return _("例：03-1234-5678（ハイフンなし・全角でも入力できます）")
    if widget == "postal_code":
        return _("例：100-0001（7桁の数字。全角でも入力できます）")
    if kind == "email":
        return _("例：taro@example.jp")
    if kind == "date":
        rule = rules.get(field["name"])
        if rule:
            earliest, latest = defn.date_rule_limits(rule, today)
            if earliest and latest:
                return _("%(from)sから%(until)sまでの日付を入力してください。") % {
                    "from": format_legal_date(earliest, lang()), "until": format_legal_date(latest, lang())}
            if earliest:
                return _("%(from)s以降の日付を入力してください。") % {"from": format_legal_date(earliest, lang())}
            return _("%(until)s以前の日付を入力してください。") % {"until": format_legal_date(latest, lang())}
        return _("例：2026年4月1日（年・月・日の順に入力します）")
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            return _("%(low)sから%(high)sまでの数字で入力してください。") % {"low": low, "high": high}
        return _("数字で入力してください。")
    if kind == "kana":
        return _("カタカナで入力してください（例：マドグチ　タロウ）。")
    return ""


def _bound(field: dict, schema: dict, value, errors: dict, prefix: str, pointer: str, required: bool,
           members=(), context=None) -> dict:
    context = context or {"fields": {}, "conditional": set(), "rules": {}, "today": today_in_japan(),
                          "definition": None}
    widget = field.get("widget", "text")
    name = f"{prefix}{field['name']}"
    condition = _condition(field, context["fields"], context["conditional"]) if not prefix else None
    bound = {"name": name, "id": "f-" + name.replace("_", "-"), "widget": widget, "label": text(field["label"]),
             "help": text(field.get("help")), "hint": _hint(field, schema, context["rules"], context["today"]),
             "required": required or (condition is not None and field["name"] in context["conditional"]),
             "errors": errors.get(pointer, []), "value": "" if value is None else value, "rows": [],
             "condition": condition, "pattern": schema.get("pattern", "")}
    bound["described"] = bool(bound["help"] or bound["hint"])
    if widget in ("select", "radio", "checkboxes"):
        chosen = value if isinstance(value, list) else [value]
        bound["choices"] = [{"value": str(c["value"]), "label": text(c["label"]), "checked": c["value"] in chosen,
                             "id": f"{bound['id']}-{i}"} for i, c in enumerate(field["choices"])]
    if widget == "household_members":
        chosen = value if isinstance(value, list) else []
        bound["choices"] = [{"value": number, "label": label, "checked": number in chosen, "id": f"{bound['id']}-{i}"}
                            for i, (number, label) in enumerate(members)]
    bound["focus"] = bound["choices"][0]["id"] if bound.get("choices") else bound["id"]
    if widget == "group":
        items = schema.get("items", {})
        rows = [r if isinstance(r, dict) else {} for r in value] if isinstance(value, list) else []
        rows = rows or [{}]  # one empty block to begin with
        for i, row in enumerate(rows):
            bound["rows"].append({
                "index": i, "legend": f"{bound['label']} {i + 1}", "id": f"{bound['id']}-{i}",
                "fields": [_bound(sub, items.get("properties", {}).get(sub["name"], {}), row.get(sub["name"]),
                                  errors, f"{name}-{i}-", f"{pointer}/{i}/{sub['name']}",
                                  sub["name"] in items.get("required", []), context=context)
                           for sub in field["fields"]]})
        bound["max_rows"] = schema.get("maxItems", MAX_ROWS)
        bound["can_add"] = len(rows) < bound["max_rows"]
        bound["add_label"] = _("%(label)sを追加") % {"label": bound["label"]}
        bound["remove_label"] = _("削除")
        bound["focus"] = bound["rows"][0]["fields"][0]["focus"] if bound["rows"] and bound["rows"][0]["fields"] else bound["id"]
    else:
        bound["errors"] = bound["errors"] + [m for p, ms in errors.items() if p.startswith(pointer + "/") for m in ms]
    bound["describedby"] = " ".join(
        ([bound["id"] + "-help"] if bound["described"] else []) + ([condition["id"]] if condition else [])
        + ([bound["id"] + "-error"] if bound["errors"] else []))
    return bound


def _problems(bound: dict) -> list[dict]:
    found = [{"text": m, "href": "#" + bound["focus"]} for m in bound["errors"]]
    for row in bound["rows"]:
        for sub in row["fields"]:
            found += _problems(sub)
    return found


def sections(definition: dict, values: dict, errors: dict, members=()) -> Form:
    """The form's sections with every field bound to its value and errors; `.problems` lists
    every error in the form's order for the error summary."""
    schema = definition["schema"]
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    context = {"fields": {f["name"]: f for f in defn.iter_fields(definition)},
               "conditional": _conditionally_required(schema),
               "rules": {r["field"]: r for r in definition.get("date_rules", [])}, "today": today_in_japan()}
    form = Form(
        {"id": s["id"], "title": text(s["title"]), "help": text(s.get("help")),
         "fields": [_bound(f, props.get(f["name"], {}), values.get(f["name"]), errors, "", f"/{f['name']}",
                           f["name"] in required, members, context) for f in s["fields"]]}
        for s in definition["form"]["sections"])
    form.problems = [p for s in form for f in s["fields"] for p in _problems(f)]
    shown = {m for p in form.problems for m in [p["text"]]}
    known = {f"/{name}" for name in context["fields"]}
    for pointer, messages in errors.items():  # a problem with no field of its own (not the attachments)
        if pointer.startswith("/attachments") or any(pointer == k or pointer.startswith(k + "/") for k in known):
            continue
        form.problems += [{"text": m, "href": ""} for m in messages if m not in shown]
    return form


# ---------------------------------------------------------------------------------------
# Showing stored values


def _legal_date(value: str) -> str:
    """A stored ISO date as a resident reads it: 昭和55年4月1日（1980年4月1日）."""
    try:
        return format_legal_date(dt.date.fromisoformat(value), lang())
    except ValueError:
        return value


def _shown(field: dict, value, members=()):
    """One stored value as a resident reads it: choice labels, household members by name,
    dates in the era, check marks."""
    choices = {c["value"]: text(c["label"]) for c in field.get("choices", [])}
    if field.get("widget") == "household_members" and isinstance(value, list):
        names = dict(members)
        return "、".join(str(names.get(v, v)) for v in value)
    if isinstance(value, list):
        return "、".join(str(choices.get(v, v)) for v in value)
    if isinstance(value, bool):
        return "✓" if value else "—"
    if field.get("widget") == "date" and isinstance(value, str):
        return _legal_date(value)
    return choices.get(value, value)


def display(definition: dict, data: dict, members=()) -> list[dict]:
    """Label/value pairs for the review and detail pages (the data is already masked).
    `members`: (resident number, name) pairs of the household, to name the members chosen."""
    out = []
    for section in definition["form"]["sections"]:
        rows = []
        for field in section["fields"]:
            if field["name"] not in data:
                continue
            value = data[field["name"]]
            if isinstance(value, list) and field.get("widget") == "group":
                # Each row in the form's order, every value with its label.
                value = " ".join(
                    f"（{i}）" + "、".join(f"{text(sub['label'])}: {_shown(sub, row[sub['name']])}"
                                          for sub in field["fields"] if sub["name"] in row)
                    for i, row in enumerate((r for r in value if isinstance(r, dict)), start=1))
            else:
                value = _shown(field, value, members)
            rows.append({"label": text(field["label"]), "value": value})
        if rows:
            out.append({"title": text(section["title"]), "rows": rows})
    return out


def household_member_values(definition: dict, data: dict) -> list[str]:
    """The resident numbers the household-member fields of a form chose."""
    chosen = []
    for section in definition["form"]["sections"]:
        for field in section["fields"]:
            value = data.get(field["name"])
            if field.get("widget") == "household_members" and isinstance(value, list):
                chosen += [v for v in value if isinstance(v, str)]
    return chosen
