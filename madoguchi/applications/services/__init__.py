"""Applications: drafts, submission, the lifecycle after it, and reading them.

The package's modules are the API inside `applications`; this module re-exports the
names other apps (and the tests) call, so `from madoguchi.applications import services`
keeps working for them.
"""
from madoguchi.core.dates import today_in_japan

from ..statemachine import FINAL, TransitionRefused, find
from .common import (
    IDEMPOTENCY_KEY, ApplicationError, Upload, Signed, Prepared, signed_document, draft_uploads,
    correction_draft,
)
from .preparation import (
    MAX_DATA_BYTES, resident_record, prefill, prefill_from, document_bytes, TEXT_NUMBER_CHOICES, numbers_in_text, prepare,
)
from .drafts import (
    save_draft, draft_data, delete_draft, add_attachment, remove_attachment, prepare_draft, open_signature,
)
from .submission import (
    submit, submit_draft, submit_draft_signed, submit_at_counter,
)
from .lifecycle import (
    transition, payment_received, notify_refunded, withdraw, resubmit, save_correction, resubmit_correction, resubmit_correction_signed,
)
from .signing import signer_is
from .reading import (
    catalog, published, own, serialize, export_row, reveal, notices_of, mark_notice_read, return_comment,
    by_public_id, latest_by_procedure,
)

__all__ = [
    "latest_by_procedure",
    "today_in_japan", "FINAL", "TransitionRefused", "find", "IDEMPOTENCY_KEY", "ApplicationError", "Upload",
    "Signed", "Prepared", "signed_document", "draft_uploads", "correction_draft", "MAX_DATA_BYTES",
    "resident_record", "prefill", "document_bytes", "TEXT_NUMBER_CHOICES", "numbers_in_text", "prepare",
    "save_draft", "draft_data", "delete_draft", "add_attachment", "remove_attachment", "prepare_draft",
    "open_signature", "submit", "submit_draft", "submit_draft_signed", "transition", "payment_received", "notify_refunded", "withdraw", "resubmit",
    "save_correction", "resubmit_correction", "resubmit_correction_signed", "catalog", "published", "own",
    "signer_is", "serialize", "export_row", "reveal", "notices_of", "mark_notice_read", "return_comment", "by_public_id",
]
