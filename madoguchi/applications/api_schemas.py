"""Request and response bodies of the applications JSON API (api.py). Request bodies refuse
unknown fields; every error answers ErrorOut."""

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from madoguchi.ceremonies.callers import OpenOut

ID = Field(..., max_length=64)


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(Schema):
    error: str = Field(..., description="a machine-readable code (docs/applications.md lists them)")
    message: str = Field(..., description="what to do, in Japanese")
    errors: dict[str, list[str]] = Field(default_factory=dict,
                                         description="field messages by JSON pointer into the request")


class ProcedureSummaryOut(Schema):
    slug: str
    version: int
    title: dict[str, str]
    description: dict[str, str]
    legal_basis: dict[str, str]
    assurance: str = Field(..., description="none / login / signature")
    fee: dict[str, Any]
    open: bool = Field(..., description="accepting applications today")
    mynumber: bool = Field(..., description="a legal My Number task (individual number fields)")


class ProcedureOut(ProcedureSummaryOut):
    schema_: dict[str, Any] = Field(..., alias="schema", description="JSON Schema of the data")
    form: dict[str, Any] = Field(..., description="presentation: sections, labels, help, choices, conditions")
    attachments: dict[str, Any] | None = None
    eligibility: dict[str, Any] | None = None
    open_period: dict[str, Any] | None = None
    one_open_per: str = "none"


class PrefillOut(Schema):
    data: dict[str, Any]
    support_measure: bool = Field(..., description="nothing is prefilled under 支援措置")


TEXT_NUMBERS = Field(None, description=(
    "the resident's answer when a free-text field holds what is a valid individual number "
    "(error `individual_number_in_text`): `mask` stores and signs it masked (1234 **** ****), "
    "`keep` keeps it as typed, recording that they confirmed it is not one"))


class DataIn(Strict):
    data: dict[str, Any]
    individual_number_in_text: Literal["mask", "keep"] | None = TEXT_NUMBERS


class ValidateOut(Schema):
    valid: bool
    fee_yen: int
    needs_signature: bool


class DraftIn(Strict):
    procedure: str = Field(..., max_length=63)
    data: dict[str, Any]
    individual_number_in_text: Literal["mask", "keep"] | None = TEXT_NUMBERS


class ApplyIn(Strict):
    procedure: str = Field(..., max_length=63)
    data: dict[str, Any]
    individual_number_in_text: Literal["mask", "keep"] | None = TEXT_NUMBERS
    idempotency_key: str | None = Field(None, max_length=64,
                                        description="or the Idempotency-Key header: 16-64 of A-Z a-z 0-9 - _")


class SubmitIn(Strict):
    ceremony_id: str | None = Field(None, max_length=64, description="the completed `sign` ceremony")
    poll_token: str | None = Field(None, max_length=100, description="its poll token, from opening it")
    idempotency_key: str | None = Field(None, max_length=64)


class AttachmentOut(Schema):
    id: int
    name: str
    sha256: str
    size: int
    type: str
    sanitisation: str
    url: str


class EventOut(Schema):
    from_status: str
    to_status: str
    role: str
    signed: bool
    at: dt.datetime
    comment: str = Field("", description="the reviewer's request, on a return for correction")


class ApplicationOut(Schema):
    id: str
    procedure: str
    version: int
    title: dict[str, str]
    status: str
    receipt_number: str
    fee_yen: int
    data: dict[str, Any] = Field(..., description="individual numbers masked")
    document_sha256: str
    signed: bool
    attachments: list[AttachmentOut]
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_at: dt.datetime | None = None


class DraftOut(ApplicationOut):
    needs_signature: bool
    corrects: str | None = Field(None, description="the returned application this draft corrects")


class DocumentOut(Schema):
    """A signed PDF the municipality issued for the application (受付票, 決定通知書)."""

    id: str
    kind: str = Field(..., description="receipt (受付票) or decision (決定通知書)")
    decision: str = Field(..., description="approved or rejected for a decision; empty for a receipt")
    sha256: str
    size: int
    created_at: dt.datetime
    url: str = Field(..., description="download (the same resident's session or bearer token)")


class ApplicationDetailOut(ApplicationOut):
    documents: list[DocumentOut] | None = Field(None, description="the issued documents: listed by GET "
                                                                  "/applications/{id}, null in other answers")
    history: list[EventOut]
    return_comment: str
    withdrawable: bool
    correctable: bool
    correction_draft: str | None = None


class PreparedOut(Schema):
    document_sha256: str
    size: int
    document: str | None = Field(None, description="base64url of the canonical JSON to sign; null when it holds "
                                                   "individual numbers (then only the digest is signed)")
    fee_yen: int
    needs_signature: bool


CeremonyOut = OpenOut  # one schema of an opened ceremony (ceremonies.callers)


class NoticeOut(Schema):
    id: int
    kind: str
    text: str
    application: str | None = None
    receipt_number: str = ""
    created_at: dt.datetime
    read_at: dt.datetime | None = None


class SessionOut(Schema):
    auth: str = Field(..., description="bearer or session")
    assurance: str = Field(..., description="login / identify (the card ceremony of the sign-in)")
    csrf_token: str | None = Field(None, description="send as X-CSRFToken on unsafe methods (session only)")
