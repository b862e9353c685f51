"""Checking an application without storing anything: eligibility, the data against the
procedure's schema, attachments, individual numbers in free text, and the canonical
document the resident signs.
"""

import base64
import copy
import datetime as dt
import hashlib
import json
import os
import re

import rfc8785
from django.conf import settings
from django.utils.translation import gettext as _

from madoguchi.card import mynumber as card_mynumber
from madoguchi.core import jsontext
from madoguchi.core.dates import today_in_japan
from madoguchi.identity.services import resident_link_of
from madoguchi.municipalities.tenancy import current_municipality, tenant
from madoguchi.procedures import definition as defn
from madoguchi.procedures.models import ProcedureVersion

from .. import mynumber
from ..attachments import clean_name, sniff
from .common import ApplicationError, Prepared


MAX_DATA_BYTES = 256 * 1024


def resident_record(person):
    """The person's 住民記録 in the municipality in scope, or None."""
    link = resident_link_of(person)
    return link.record if link else None


def prefill(version: ProcedureVersion, person, record=None) -> dict:
    """Initial values from the verified four facts and the resident record. Nothing is
    prefilled for a record under 支援措置 (DV and stalking protection)."""
    return prefill_from(version, {"name": person.verified_name, "birth_date": person.verified_birth_date.isoformat(),
                                  "address": person.verified_address, "sex": person.verified_sex}, record)


def prefill_from(version: ProcedureVersion, facts: dict, record=None) -> dict:
    """`prefill` from verified facts (name, birth_date ISO, address, sex) and a record (a
    ResidentRecord or residents.reading.RecordFacts): the counter prefills from one card read."""
    if record is not None and record.support_measure:
        return {}
    sources = {**facts, "name_kana": record.name_kana if record is not None else ""}
    values = {}
    for field_ in defn.iter_fields(version.definition):
        value = sources.get(field_.get("prefill", ""))
        if value:
            values[field_["name"]] = value
    return values


def _normalize_numbers(schema: dict, data: dict) -> dict:
    data = copy.deepcopy(data)
    for pointer in defn.mynumber_pointers(schema, data):
        defn.set_pointer(data, pointer, mynumber.normalize(defn.get_pointer(data, pointer)))
    return data


def _household_errors(definition: dict, data: dict, record) -> dict:
    errors = {}
    for field_ in defn.iter_fields(definition):
        if field_.get("widget") != "household_members" or field_["name"] not in data:
            continue
        members = set()
        if record is not None and record.household_id:
            from madoguchi.residents.models import ResidentRecord

            members = set(ResidentRecord.objects.filter(household_id=record.household_id, status="resident")
                          .values_list("resident_number", flat=True))
        for i, value in enumerate(data[field_["name"]] if isinstance(data[field_["name"]], list) else []):
            if value not in members:
                errors.setdefault(f"/{field_['name']}/{i}", []).append(_("同じ世帯の方から選んでください。"))
    return errors


def document_bytes(version: ProcedureVersion, data: dict, attachments: list, nonce: str,
                   not_individual_numbers=()) -> bytes:
    """The canonical JSON (RFC 8785) the resident signs. The random nonce keeps the
    document's hash (in the CMS) from revealing an individual number by brute force.
    `not_individual_numbers` (present only when the resident said so) lists the free-text
    fields whose 12 digits they confirmed are not an individual number: they sign that too."""
    document = {
        "procedure": version.procedure.slug, "version": version.number, "data": data,
        "attachments": [{k: a[k] for k in ("name", "sha256", "size", "type")} for a in attachments],
        "nonce": nonce,
    }
    if not_individual_numbers:
        document["not_individual_numbers"] = sorted(not_individual_numbers)
    return rfc8785.dumps(document)


TEXT_NUMBER_CHOICES = ("mask", "keep")


def numbers_in_text(definition: dict, data) -> list[str]:
    """JSON pointers of the free-text values (strings without enum, const, pattern or
    format in the schema: names, addresses, descriptions) holding something that is a valid
    individual number (card.mynumber.find_in_text). Legal My Number fields have a format
    and are not free text."""
    found = []

    def walk(schema, value, pointer):
        if not isinstance(schema, dict):
            return
        if isinstance(value, dict):
            for name, sub in (schema.get("properties") or {}).items():
                if name in value:
                    walk(sub, value[name], f"{pointer}/{jsontext.token(name)}")
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                walk(schema["items"], item, f"{pointer}/{i}")
        elif isinstance(value, str) and not any(k in schema for k in ("enum", "const", "pattern", "format")):
            if card_mynumber.find_in_text(value):
                found.append(pointer)

    walk(definition["schema"], data, "")
    return found


def prepare(version: ProcedureVersion, person, data, uploads=(), *, today: dt.date | None = None,
            nonce: str | None = None, record=None, correction: bool = False, partial: bool = False,
            text_numbers: str | None = None) -> Prepared:
    """Checks everything about an application without storing anything; raises
    ApplicationError with field-level messages. An individual number in a free-text field
    is refused (`individual_number_in_text`, the fields named) unless `text_numbers` says
    what to do: "mask" replaces it by its mask *before* the document is built (so the
    resident signs the masked text), "keep" keeps it, recording in the document that the
    resident confirmed it is not one. A `correction` (of a returned application)
    stays on its own version, even retired or past its open period. `partial` (an API
    draft, whose files come one by one) leaves out the minimum number of attachments,
    which the submission checks."""
    if current_municipality() is not None and current_municipality().pk != version.municipality_id:
        raise ApplicationError("not_found", _("この手続きはありません。"), status=404)
    if version.status != ProcedureVersion.Status.PUBLISHED and not correction:
        raise ApplicationError("closed", _("この手続きは現在受け付けていません。"), status=409)
    definition = version.definition
    today = today or today_in_japan()
    if not correction and not defn.is_open(definition, today):
        raise ApplicationError("closed", _("この手続きは受付期間外です。"), status=409)
    if not isinstance(data, dict):
        raise ApplicationError("invalid", _("入力内容を確かめてください。"), {"/": [_("入力の形式が正しくありません。")]})
    lone = jsontext.lone_surrogates(data)  # before anything encodes the data as UTF-8
    if lone:
        raise ApplicationError("invalid", _("入力内容を確かめてください。"),
                               {p: [_("使えない文字（対になっていないサロゲート）が含まれています。")] for p in lone})
    if len(json.dumps(data, ensure_ascii=False).encode()) > MAX_DATA_BYTES:
        raise ApplicationError("too_large", _("入力が大きすぎます。"), status=413)
    control = _control_characters(data)
    if control:
        raise ApplicationError("invalid", _("入力内容を確かめてください。"),
                               {p: [_("使えない制御文字が含まれています。")] for p in control})
    with tenant(version.municipality):
        if record is None:
            record = resident_record(person)
        problems = defn.eligibility_problems(definition, birth_date=person.verified_birth_date, record=record,
                                             today=today)
        if problems:
            raise ApplicationError("not_eligible", problems[0], {"/": problems}, status=403)
        data = _normalize_numbers(definition["schema"], defn.prune_hidden(definition, data))
        errors = defn.data_errors(definition, data, today)
        for pointer, messages in _household_errors(definition, data, record).items():
            errors.setdefault(pointer, []).extend(messages)
    attachments, attachment_errors = _check_uploads(definition, uploads, minimum=not partial)
    errors.update(attachment_errors)
    if errors:
        raise ApplicationError("invalid", _("入力内容を確かめてください。"), errors)
    in_text = numbers_in_text(definition, data)
    kept = []
    if in_text and text_numbers == "mask":
        for pointer in in_text:
            defn.set_pointer(data, pointer, card_mynumber.mask_in_text(defn.get_pointer(data, pointer)))
        errors = defn.data_errors(definition, data, today)  # the mask is two characters longer
        if errors:
            raise ApplicationError("invalid", _("入力内容を確かめてください。"), errors)
    elif in_text and text_numbers == "keep":
        kept = in_text
    elif in_text:
        raise ApplicationError("individual_number_in_text", _(
            "マイナンバー（個人番号）と思われる番号が入力されています。番号を伏せて進むか、マイナンバーではないことを確認してください。"),
            {p: [_("マイナンバー（個人番号）と思われる12桁の番号があります。マイナンバーはこの欄に書かないでください。")]
             for p in in_text})
    numbers = {p: defn.get_pointer(data, p) for p in defn.mynumber_pointers(definition["schema"], data)}
    nonce = nonce or base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
    rule = definition.get("one_open_per", "none")
    household_id = record.household_id if record is not None else ""
    if rule == "person" or (rule == "household" and not household_id):
        dedup_key = f"person:{person.pk}"
    elif rule == "household":
        dedup_key = f"household:{household_id}"
    else:
        dedup_key = ""
    return Prepared(version=version, data=data, numbers=numbers, attachments=attachments,
                    document=document_bytes(version, data, attachments, nonce, kept), nonce=nonce,
                    fee_yen=defn.fee_yen(definition, data), dedup_key=dedup_key, household_id=household_id,
                    not_individual_numbers=kept)


def _control_characters(value, pointer: str = "") -> list[str]:
    """JSON pointers of strings (keys or values) holding NUL or another C0 control character
    other than tab and newlines: no form field needs one, and PostgreSQL refuses NUL."""
    bad = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            here = f"{pointer}/{str(k).replace('~', '~0').replace('/', '~1')}"
            found += [here] if bad.search(str(k)) else _control_characters(v, here)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _control_characters(v, f"{pointer}/{i}")
    elif isinstance(value, str) and bad.search(value):
        found.append(pointer or "/")
    return found


def _check_uploads(definition: dict, uploads, minimum: bool = True) -> tuple[list, dict]:
    rules = definition.get("attachments") or {"max_count": 0, "max_bytes": 1, "types": []}
    uploads = list(uploads)
    if len(uploads) > rules["max_count"]:
        return [], {"/attachments": [_("添付できるファイルは%(n)s件までです。") % {"n": rules["max_count"]}]}
    if minimum and len(uploads) < rules.get("min_count", 0):
        return [], {"/attachments": [_("ファイルを%(n)s件以上添付してください。") % {"n": rules["min_count"]}]}
    limit = min(rules["max_bytes"], settings.APPLICATION_ATTACHMENT_MAX_BYTES)
    found, errors = [], {}
    for i, upload in enumerate(uploads):
        content = bytes(upload.content)
        where = f"/attachments/{i}"
        if len(content) > limit:
            errors[where] = [_("ファイルが大きすぎます（%(n)sバイトまで）。") % {"n": f"{limit:,}"}]
            continue
        kind = sniff(content)
        if kind is None or kind not in rules["types"]:
            errors[where] = [_("このファイルの種類は添付できません。")]
            continue
        found.append({"name": clean_name(upload.name), "sha256": hashlib.sha256(content).hexdigest(),
                      "size": len(content), "type": kind, "content": content})
    return found, errors
