"""The form of a procedure definition: fields to show, values read from a POST."""

from django.utils.translation import get_language

from madoguchi.procedures import definition as defn

GROUP_ROWS = 3


def lang() -> str:
    return "en" if (get_language() or "ja").startswith("en") else "ja"


def text(value: dict | None) -> str:
    return (value or {}).get(lang(), "") if isinstance(value, dict) else ""


def _bound(field: dict, schema: dict, value, errors: dict, prefix: str, pointer: str, required: bool,
           members=()) -> dict:
    widget = field.get("widget", "text")
    name = f"{prefix}{field['name']}"
    bound = {"name": name, "id": "f-" + name.replace("_", "-"), "widget": widget, "label": text(field["label"]),
             "help": text(field.get("help")), "required": required, "errors": errors.get(pointer, []),
             "value": "" if value is None else value, "rows": []}
    if "show_if" in field:
        bound["condition"] = field["show_if"]
    if widget in ("select", "radio", "checkboxes"):
        chosen = value if isinstance(value, list) else [value]
        bound["choices"] = [{"value": str(c["value"]), "label": text(c["label"]), "checked": c["value"] in chosen,
                             "id": f"f-{name}-{i}"} for i, c in enumerate(field["choices"])]
    if widget == "household_members":
        chosen = value if isinstance(value, list) else []
        bound["choices"] = [{"value": number, "label": label, "checked": number in chosen, "id": f"f-{name}-{i}"}
                            for i, (number, label) in enumerate(members)]
    if widget == "group":
        items = schema.get("items", {})
        rows = value if isinstance(value, list) else []
        for i in range(max(GROUP_ROWS, len(rows))):
            row = rows[i] if i < len(rows) and isinstance(rows[i], dict) else {}
            bound["rows"].append([
                _bound(sub, items.get("properties", {}).get(sub["name"], {}), row.get(sub["name"]), errors,
                       f"{name}-{i}-", f"{pointer}/{i}/{sub['name']}", sub["name"] in items.get("required", []))
                for sub in field["fields"]])
    bound["errors"] = bound["errors"] + [m for p, ms in errors.items() if p.startswith(pointer + "/")
                                          and widget != "group" for m in ms]
    return bound


def sections(definition: dict, values: dict, errors: dict, members=()) -> list[dict]:
    props = definition["schema"].get("properties", {})
    required = set(definition["schema"].get("required", []))
    return [{"id": s["id"], "title": text(s["title"]), "help": text(s.get("help")),
             "fields": [_bound(f, props.get(f["name"], {}), values.get(f["name"]), errors, "", f"/{f['name']}",
                               f["name"] in required, members) for f in s["fields"]]}
            for s in definition["form"]["sections"]]


def _value(field: dict, schema: dict, post, name: str):
    widget = field.get("widget", "text")
    if widget in ("checkboxes", "household_members"):
        values = post.getlist(name)
        return values or None
    if widget == "checkbox":
        return post.get(name) == "on"
    raw = post.get(name, "")
    raw = raw.strip() if isinstance(raw, str) else ""
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


def read(definition: dict, post) -> dict:
    """Data from a POST: empty fields are left out (so "required" reports them)."""
    props = definition["schema"].get("properties", {})
    data = {}
    for field in defn.iter_fields(definition):
        schema = props.get(field["name"], {})
        if field.get("widget") == "group":
            items = schema.get("items", {})
            rows = []
            for i in range(GROUP_ROWS):
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


def _legal_date(value: str) -> str:
    """A stored ISO date as a resident reads it: 昭和55年4月1日（1980年4月1日）."""
    import datetime as dt

    from madoguchi.core.dates import format_legal_date

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
