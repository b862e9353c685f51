"""The procedure definition format (version 1): checks, data validation, fees, periods.

A definition is one JSON document (see docs/applications.md): a JSON Schema for the data,
the form that presents it (sections, fields, labels and help in ja/en, choice lists,
conditional fields), attachment rules, a fee rule, the required assurance, eligibility,
household selection, the open period, the legal basis, the owning department, a
retention class and an export column mapping. `definition_errors` checks it against the
meta-schema (`metaschema.json`) and then for consistency; a definition with errors
cannot be published.
"""

import datetime as dt
import json
import re
from functools import cache
from pathlib import Path

from django.utils.translation import get_language
from django.utils.translation import gettext as _
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from madoguchi.card import mynumber
from madoguchi.core import jsontext
from madoguchi.core.dates import format_legal_date

FORMAT_VERSION = 1
MYNUMBER_FORMAT = "jp-individual-number"
METASCHEMA_PATH = Path(__file__).with_name("metaschema.json")
MAX_DEFINITION_BYTES = 512 * 1024
LONE_SURROGATE = "a lone surrogate (an unpaired \\uD800-\\uDFFF escape) cannot be stored"


@cache
def metaschema() -> dict:
    return json.loads(METASCHEMA_PATH.read_text(encoding="utf-8"))


def _is_individual_number(value) -> bool:
    if not isinstance(value, str):
        return True  # the type keyword reports it
    return mynumber.is_valid(value)


def _is_date(value) -> bool:
    if not isinstance(value, str):
        return True
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks(MYNUMBER_FORMAT)(_is_individual_number)
    checker.checks("date")(_is_date)
    checker.checks("email")(lambda v: not isinstance(v, str) or ("@" in v and " " not in v and len(v) <= 254))
    return checker


def _path(parts) -> str:
    return "/" + "/".join(str(p) for p in parts) if parts else "/"


# ---------------------------------------------------------------------------------------
# Checking a definition


def definition_errors(definition) -> list[str]:
    """Every reason this definition cannot be published ("where: what"); [] when it can."""
    if not isinstance(definition, dict):
        return ["/: a definition is a JSON object"]
    lone = jsontext.lone_surrogates(definition)  # before anything encodes it as UTF-8
    if lone:
        return [f"{p}: {LONE_SURROGATE}" for p in lone]
    if len(json.dumps(definition, ensure_ascii=False).encode()) > MAX_DEFINITION_BYTES:
        return [f"/: a definition is at most {MAX_DEFINITION_BYTES} bytes"]
    errors = [f"{_path(e.absolute_path)}: {e.message}"
              for e in sorted(Draft202012Validator(metaschema()).iter_errors(definition), key=lambda e: list(e.path))]
    if errors:
        return errors
    try:
        Draft202012Validator.check_schema(definition["schema"])
    except SchemaError as exc:
        return [f"/schema{_path(exc.absolute_path)}: not a valid JSON Schema: {exc.message}"]
    return _consistency_errors(definition)


def iter_fields(definition):
    for section in definition["form"]["sections"]:
        yield from section["fields"]


def _consistency_errors(d: dict) -> list[str]:
    errors = []
    props = d["schema"].get("properties", {})
    fields = {}
    for field in iter_fields(d):
        if field["name"] in fields:
            errors.append(f"/form: field {field['name']!r} appears twice")
        fields[field["name"]] = field
    for name in props:
        if name not in fields:
            errors.append(f"/schema/properties/{name}: no form field presents it")
    for name, field in fields.items():
        where = f"/form/fields/{name}"
        if name not in props:
            errors.append(f"{where}: no property {name!r} in the schema")
            continue
        errors += _field_errors(where, field, props[name])
        condition = field.get("show_if")
        if condition:
            if condition["field"] not in fields or condition["field"] == name:
                errors.append(f"{where}/show_if: refers to an unknown field {condition['field']!r}")
            if ("equals" in condition) == ("in" in condition):
                errors.append(f"{where}/show_if: give exactly one of equals / in")
    for name in d["schema"].get("required", []):
        if name not in props:
            errors.append(f"/schema/required: {name!r} is not a property")
    mynumber = mynumber_schema_paths(d["schema"])
    if mynumber and "mynumber_task" not in d:
        errors.append("/mynumber_task: individual number fields are allowed only in a legal My Number task "
                      "(番号法): declare mynumber_task with its legal basis")
    if "mynumber_task" in d and not mynumber:
        errors.append("/mynumber_task: declared, but no field has format jp-individual-number")
    fee = d.get("fee", {"kind": "none"})
    for i, item in enumerate(fee.get("items", [])):
        schema = props.get(item["field"])
        if schema is None or schema.get("type") != "integer":
            errors.append(f"/fee/items/{i}/field: {item['field']!r} must be an integer property")
        elif schema.get("minimum", -1) < 0:
            errors.append(f"/fee/items/{i}/field: {item['field']!r} needs a minimum of 0 or more")
    if fee["kind"] != "per_copy" and "items" in fee:
        errors.append("/fee/items: only a per_copy fee has items")
    exemption = fee.get("exemption")
    if exemption is not None:
        codes = [r["code"] for r in exemption["reasons"]]
        schema = props.get(exemption["field"])
        if fee["kind"] == "none":
            errors.append("/fee/exemption: a free procedure (kind none) has nothing to exempt")
        if len(set(codes)) != len(codes):
            errors.append("/fee/exemption/reasons: the codes must differ")
        if schema is None or schema.get("type") != "string":
            errors.append(f"/fee/exemption/field: {exemption['field']!r} must be a string property")
        elif "enum" in schema and set(schema["enum"]) - set(codes) - {""}:
            errors.append(f"/fee/exemption/field: {exemption['field']!r} allows answers that are not reasons")
    postage = fee.get("postage")
    if postage is not None:
        if fee["kind"] == "none":
            errors.append("/fee/postage: a free procedure (kind none) has no postage")
        if ("field" in postage) != ("equals" in postage):
            errors.append("/fee/postage: give field and equals together, or neither (always charged)")
        elif "field" in postage and postage["field"] not in props:
            errors.append(f"/fee/postage/field: {postage['field']!r} is not a property")
    for i, column in enumerate(d.get("export", [])):
        first = column["pointer"].split("/")[1]
        if first not in props:
            errors.append(f"/export/{i}/pointer: {first!r} is not a property")
        elif any(p == column["pointer"] or p.startswith(column["pointer"] + "/") or column["pointer"].startswith(p + "/")
                 for p in mynumber):
            errors.append(f"/export/{i}/pointer: individual numbers are never exported in ordinary exports")
    period = d.get("open_period", {})
    dates = {}
    for key in ("from", "until"):
        if key in period:
            try:
                dates[key] = dt.date.fromisoformat(period[key])
            except ValueError:
                errors.append(f"/open_period/{key}: {period[key]!r} is not a date")
    if len(dates) == 2 and dates["from"] > dates["until"]:
        errors.append("/open_period: from is after until")
    attachments = d.get("attachments")
    if attachments:
        if attachments.get("min_count", 0) > attachments["max_count"]:
            errors.append("/attachments: min_count is over max_count")
        if attachments["max_count"] and not attachments["types"]:
            errors.append("/attachments/types: no allowed type")
    eligibility = d.get("eligibility", {})
    if "min_age" in eligibility and "max_age" in eligibility and eligibility["min_age"] > eligibility["max_age"]:
        errors.append("/eligibility: min_age is over max_age")
    for i, rule in enumerate(d.get("date_rules", [])):
        schema = props.get(rule["field"])
        if schema is None or schema.get("format") != "date":
            errors.append(f"/date_rules/{i}/field: {rule['field']!r} must be a property with format date")
        if "min_days" in rule and "max_days" in rule and rule["min_days"] > rule["max_days"]:
            errors.append(f"/date_rules/{i}: min_days is over max_days")
    has_members = any(f.get("widget") == "household_members" for f in fields.values())
    if d.get("household_selection") and not has_members:
        errors.append("/household_selection: needs a field with widget household_members")
    if has_members and not d.get("household_selection"):
        errors.append("/form: a household_members field needs household_selection: true")
    if d.get("one_open_per") == "household" and not eligibility.get("residents_only"):
        errors.append("/one_open_per: household needs eligibility.residents_only (the household is the resident record's)")
    return errors


def _field_errors(where: str, field: dict, schema: dict) -> list[str]:
    errors = []
    widget = field.get("widget", "text")
    if widget == "mynumber" and schema.get("format") != MYNUMBER_FORMAT:
        errors.append(f"{where}: a mynumber field needs format {MYNUMBER_FORMAT} in the schema")
    if schema.get("format") == MYNUMBER_FORMAT and widget != "mynumber":
        errors.append(f"{where}: an individual number is shown only by the mynumber widget")
    if widget in ("select", "radio", "checkboxes"):
        if "choices" not in field:
            errors.append(f"{where}: a {widget} needs choices")
        else:
            enum = schema.get("enum") if widget != "checkboxes" else (schema.get("items") or {}).get("enum")
            values = [c["value"] for c in field["choices"]]
            if enum is None:
                errors.append(f"{where}: the schema needs an enum of the choice values")
            elif sorted(map(str, enum)) != sorted(map(str, values)):
                errors.append(f"{where}: the choices and the schema's enum differ")
    if widget == "group":
        items = schema.get("items", {}) if schema.get("type") == "array" else {}
        if items.get("type") != "object":
            errors.append(f"{where}: a group presents an array of objects")
        elif "fields" not in field:
            errors.append(f"{where}: a group needs fields")
        else:
            inner = items.get("properties", {})
            names = [f["name"] for f in field["fields"]]
            for name in inner:
                if name not in names:
                    errors.append(f"{where}/{name}: no form field presents it")
            for sub in field["fields"]:
                if sub["name"] not in inner:
                    errors.append(f"{where}/{sub['name']}: no property {sub['name']!r} in the items")
                else:
                    errors += _field_errors(f"{where}/{sub['name']}", sub, inner[sub["name"]])
    elif "fields" in field:
        errors.append(f"{where}: only a group has fields")
    if widget == "household_members" and not (schema.get("type") == "array"
                                              and (schema.get("items") or {}).get("type") == "string"):
        errors.append(f"{where}: household_members is an array of member references (strings)")
    return errors


def mynumber_schema_paths(schema: dict, prefix: str = "") -> list[str]:
    """JSON pointers (with * for array items) of every individual number in a data schema."""
    paths = []
    if not isinstance(schema, dict):
        return paths
    if schema.get("format") == MYNUMBER_FORMAT:
        paths.append(prefix or "/")
    for name, sub in (schema.get("properties") or {}).items():
        paths += mynumber_schema_paths(sub, f"{prefix}/{name}")
    if isinstance(schema.get("items"), dict):
        paths += mynumber_schema_paths(schema["items"], f"{prefix}/*")
    return paths


def mynumber_pointers(schema: dict, data) -> list[str]:
    """Concrete JSON pointers of the individual numbers present in `data`."""
    found = []
    for pattern in mynumber_schema_paths(schema):
        found += _expand(pattern.strip("/").split("/"), data, "")
    return found


def _expand(parts, value, prefix):
    if not parts:
        return [prefix] if isinstance(value, str) and value else []
    head, rest = parts[0], parts[1:]
    if head == "*":
        if not isinstance(value, list):
            return []
        return [p for i, item in enumerate(value) for p in _expand(rest, item, f"{prefix}/{i}")]
    if not isinstance(value, dict) or head not in value:
        return []
    return _expand(rest, value[head], f"{prefix}/{head}")


def get_pointer(data, pointer: str):
    for part in pointer.strip("/").split("/"):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def set_pointer(data, pointer: str, value) -> None:
    parts = pointer.strip("/").split("/")
    for part in parts[:-1]:
        data = data[int(part)] if isinstance(data, list) else data[part]
    last = parts[-1]
    if isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


# ---------------------------------------------------------------------------------------
# Data


def visible(field: dict, data: dict) -> bool:
    condition = field.get("show_if")
    if not condition:
        return True
    value = data.get(condition["field"])
    if "equals" in condition:
        return value == condition["equals"]
    return value in condition["in"]


def prune_hidden(definition: dict, data: dict) -> dict:
    """The data without the values of fields hidden by their conditions (never stored)."""
    if not isinstance(data, dict):
        return data
    hidden = {f["name"] for f in iter_fields(definition) if not visible(f, data)}
    return {k: v for k, v in data.items() if k not in hidden}


def _text(value) -> str:
    language = "en" if (get_language() or "ja").startswith("en") else "ja"
    return value.get(language, "") if isinstance(value, dict) else ""


def field_at(definition: dict, parts) -> tuple[dict | None, str]:
    """The form field a data path (["children", 1, "name"]) is in, and its label as a message
    names it: a group's member field says which block (子の氏名（子 2）)."""
    fields = {f["name"]: f for f in iter_fields(definition)}
    if not parts or parts[0] not in fields:
        return None, ""
    field = fields[parts[0]]
    label = _text(field["label"])
    if field.get("widget") == "group" and len(parts) >= 3 and isinstance(parts[1], int):
        sub = {f["name"]: f for f in field.get("fields", [])}.get(parts[2])
        if sub is not None:
            return sub, _("%(field)s（%(group)s %(n)s）") % {"field": _text(sub["label"]), "group": label,
                                                          "n": parts[1] + 1}
    return field, label


def _in_sentence(label: str) -> str:
    """A label inside an English sentence starts in lower case ("Enter daytime phone number")."""
    if (get_language() or "ja").startswith("en") and label[:1].isupper() and label[1:2].islower():
        return label[0].lower() + label[1:]
    return label


_DIGITS_PATTERN = re.compile(r"^\^\[0-9\]\{(\d+)\}\$$")
KANA_MARK = "ァ"


def _message(error, field: dict | None = None, label: str = "") -> str:
    """A Japanese message for the resident naming the field; never echoes the value (it may
    be a number)."""
    kind, limit = error.validator, error.validator_value
    widget = (field or {}).get("widget", "text")
    if not label:
        return _generic_message(error)
    f = {"label": _in_sentence(label)}
    choosing = widget in ("select", "radio", "checkboxes", "household_members")
    if kind == "required":
        if choosing:
            return _("%(label)sを選んでください。") % f
        if widget == "checkbox":
            return _("%(label)sにチェックを入れてください。") % f
        return _("%(label)sを入力してください。") % f
    if kind == "type":
        if "integer" in (limit if isinstance(limit, list) else [limit]):
            return _("%(label)sは数字で入力してください。") % f
        return _("%(label)sの形式が正しくありません。") % f
    if kind == "const" and limit is True:
        return _("%(label)sにチェックを入れてください。") % f
    if kind in ("enum", "const"):
        return _("%(label)sは選択肢から選んでください。") % f
    if kind == "minLength":
        if limit == 1:
            return _("%(label)sを入力してください。") % f
        return _("%(label)sは%(n)s文字以上で入力してください。") % {**f, "n": limit}
    if kind == "maxLength":
        return _("%(label)sは%(n)s文字以内で入力してください。") % {**f, "n": limit}
    if kind == "minimum":
        return _("%(label)sは%(n)s以上の数を入力してください。") % {**f, "n": limit}
    if kind == "maximum":
        return _("%(label)sは%(n)s以下の数を入力してください。") % {**f, "n": limit}
    if kind == "minItems":
        if choosing:
            return _("%(label)sを%(n)s件以上選んでください。") % {**f, "n": limit}
        return _("%(label)sを%(n)s件以上入力してください。") % {**f, "n": limit}
    if kind == "maxItems":
        return _("%(label)sは%(n)s件以内にしてください。") % {**f, "n": limit}
    if kind == "format" and limit == MYNUMBER_FORMAT:
        value = error.instance
        if not (isinstance(value, str) and len(value) == 12 and value.isascii() and value.isdigit()):
            return _("%(label)sは12桁の数字で入力してください。") % f
        # 12 digits whose last (the check digit, computed from the first eleven) does not match
        return _("%(label)sが正しくありません。12桁の最後の1桁（検査用数字）が合いません。"
                 "マイナンバーカードで番号を確かめてください。") % f
    if kind == "format" and limit == "date":
        return _("%(label)sを正しい日付で入力してください。") % f
    if kind == "format" and limit == "email":
        return _("%(label)sは、taro@example.jp のような形で入力してください。") % f
    if kind == "pattern":
        if widget == "tel":
            return _("%(label)sは、03-1234-5678 のように数字で入力してください。") % f
        if widget == "postal_code":
            return _("%(label)sは、100-0001 のように7桁の数字で入力してください。") % f
        digits = _DIGITS_PATTERN.match(limit)
        if digits:
            return _("%(label)sは%(n)s桁の数字で入力してください。") % {**f, "n": digits[1]}
        if KANA_MARK in limit:
            return _("%(label)sはカタカナで入力してください。") % f
        return _("%(label)sの形式が正しくありません。") % f
    if kind == "additionalProperties":
        return _("この手続きにない項目です。")
    return _("%(label)sの入力内容を確かめてください。") % f


def _generic_message(error) -> str:
    """A message for a value no form field presents (an API client's mistake)."""
    kind = error.validator
    if kind == "required":
        return _("入力してください。")
    if kind == "additionalProperties":
        return _("この手続きにない項目です。")
    return _("入力内容を確かめてください。")


def data_errors(definition: dict, data, today: dt.date | None = None) -> dict[str, list[str]]:
    """Field-level messages {JSON pointer: [message]} for data against the definition, each
    naming its field (the date rules are relative to `today`, the date in Japan, and their
    limits are shown as 和暦 dates)."""
    if not isinstance(data, dict):
        return {"/": [_("入力の形式が正しくありません。")]}
    validator = Draft202012Validator(definition["schema"], format_checker=format_checker())
    errors: dict[str, list[str]] = {}
    for error in validator.iter_errors(data):
        if error.validator in ("if", "then", "else", "allOf", "anyOf", "oneOf"):
            continue
        parts = list(error.absolute_path)
        if error.validator == "required":
            present = error.instance if isinstance(error.instance, dict) else {}
            for name in error.validator_value:
                if name not in present:
                    field, label = field_at(definition, parts + [name])
                    bucket = errors.setdefault(_path(parts + [name]), [])
                    message = _message(error, field, label)
                    if message not in bucket:  # jsonschema reports one error per missing name
                        bucket.append(message)
            continue
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set((error.schema.get("properties") or {}).keys())
            for name in error.instance:
                if name not in allowed:
                    errors.setdefault(_path(parts + [name]), []).append(_message(error))
            continue
        field, label = field_at(definition, parts)
        message = _message(error, field, label)
        bucket = errors.setdefault(_path(parts), [])
        if message not in bucket:
            bucket.append(message)
    if today is not None:
        for rule in definition.get("date_rules", []):
            name = rule["field"]
            value = data.get(name)
            if f"/{name}" in errors or not isinstance(value, str):
                continue
            try:
                date = dt.date.fromisoformat(value)
            except ValueError:
                continue
            earliest, latest = date_rule_limits(rule, today)
            label = _in_sentence(field_at(definition, [name])[1])
            if earliest is not None and date < earliest:
                errors.setdefault(f"/{name}", []).append(
                    _("%(label)sは%(date)s以降の日付にしてください。") % {"label": label, "date": _legal(earliest)})
            if latest is not None and date > latest:
                errors.setdefault(f"/{name}", []).append(
                    _("%(label)sは%(date)s以前の日付にしてください。") % {"label": label, "date": _legal(latest)})
    return errors


def date_rule_limits(rule: dict, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The earliest and latest dates a date rule accepts today (None: no limit)."""
    earliest = today + dt.timedelta(days=rule["min_days"]) if "min_days" in rule else None
    latest = today + dt.timedelta(days=rule["max_days"]) if "max_days" in rule else None
    return earliest, latest


def _legal(value: dt.date) -> str:
    return format_legal_date(value, get_language() or "ja")


# ---------------------------------------------------------------------------------------
# Fees, period, eligibility


def fee_lines(definition: dict, data: dict) -> list[dict]:
    """The fee's breakdown, the one source of both the amount shown and the amount charged:
    lines of {kind: fixed | copy | postage, label (a text or None), yen (unit), count,
    subtotal}. Per copy: the unit price times the number asked for (lines of 0 copies left
    out); postage (郵送料): added when the definition's condition holds (or always)."""
    fee = definition.get("fee") or {"kind": "none"}
    data = data if isinstance(data, dict) else {}
    lines = []
    if fee["kind"] == "fixed":
        lines.append({"kind": "fixed", "label": None, "yen": fee["yen"], "count": 1, "subtotal": fee["yen"]})
    elif fee["kind"] == "per_copy":
        for item in fee["items"]:
            copies = data.get(item["field"], 0)
            copies = copies if isinstance(copies, int) and not isinstance(copies, bool) and copies > 0 else 0
            if copies:
                lines.append({"kind": "copy", "label": item.get("label"), "yen": item["yen"], "count": copies,
                              "subtotal": item["yen"] * copies})
    postage = fee.get("postage")
    if postage and lines and ("field" not in postage or data.get(postage["field"]) == postage["equals"]):
        lines.append({"kind": "postage", "label": postage.get("label"), "yen": postage["yen"], "count": 1,
                      "subtotal": postage["yen"]})
    return lines


def exemption_claimed(definition: dict, data: dict) -> str | None:
    """The reason code of the fee exemption (手数料免除) the resident claims, or None."""
    exemption = (definition.get("fee") or {}).get("exemption")
    if not exemption or not isinstance(data, dict):
        return None
    answer = data.get(exemption["field"])
    return answer if answer in {r["code"] for r in exemption["reasons"]} else None


def exemption_label(definition: dict, code: str):
    """The definition's label (a text) of an exemption reason, or None."""
    for reason in ((definition.get("fee") or {}).get("exemption") or {}).get("reasons", []):
        if reason["code"] == code:
            return reason["label"]
    return None


def charged_lines(definition: dict, data: dict) -> list[dict]:
    """fee_lines, and when an exemption is claimed a last line taking the whole fee off
    (kind exemption, its reason's label): what the resident is asked to pay."""
    lines = fee_lines(definition, data)
    code = exemption_claimed(definition, data)
    gross = sum(line["subtotal"] for line in lines)
    if code and gross:
        lines.append({"kind": "exemption", "label": exemption_label(definition, code), "yen": -gross, "count": 1,
                      "subtotal": -gross})
    return lines


def gross_fee_yen(definition: dict, data: dict) -> int:
    """The fee before any exemption: charged when staff do not accept a claimed exemption."""
    return sum(line["subtotal"] for line in fee_lines(definition, data))


def fee_yen(definition: dict, data: dict) -> int:
    """The fee charged: the lines' sum, 0 when an exemption is claimed (staff check it)."""
    return sum(line["subtotal"] for line in charged_lines(definition, data))


def is_open(definition: dict, today: dt.date) -> bool:
    period = definition.get("open_period") or {}
    if "from" in period and today < dt.date.fromisoformat(period["from"]):
        return False
    if "until" in period and today > dt.date.fromisoformat(period["until"]):
        return False
    return True


def age_on(birth: dt.date, today: dt.date) -> int:
    """The legal age (年齢計算ニ関スル法律), as broadcasts and benefits count it: a year is
    complete at the end of the day before the birthday (core.dates.legal_age)."""
    from madoguchi.core.dates import legal_age

    return legal_age(birth, today)


def eligibility_problems(definition: dict, *, birth_date: dt.date | None, record, today: dt.date) -> list[str]:
    """Why this person may not apply (Japanese, for the resident); [] when they may.
    `record` is their ResidentRecord in this municipality, or None."""
    rules = definition.get("eligibility") or {}
    problems = []
    if rules.get("residents_only") and (record is None or record.status != "resident"):
        problems.append(_("この手続きは市区町村の住民の方が対象です。"))
    if birth_date is not None:
        age = age_on(birth_date, today)
        if "min_age" in rules and age < rules["min_age"]:
            problems.append(_("この手続きは%(n)s歳以上の方が対象です。") % {"n": rules["min_age"]})
        if "max_age" in rules and age > rules["max_age"]:
            problems.append(_("この手続きは%(n)s歳以下の方が対象です。") % {"n": rules["max_age"]})
    if rules.get("household_head") and (record is None or not record.is_household_head):
        problems.append(_("この手続きは世帯主の方が対象です。"))
    return problems
