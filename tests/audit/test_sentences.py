"""Every audit action the code records reads as a sentence on the staff pages.

The codes are found in the source, not listed by hand: every `record("…")` call's first
argument, the payments' `_audit("…")`, and the three codes built from a pattern
(applications.<status>, applications.attachment_<status>, payments.<status>) expanded
from the values that can fill them. A new f-string pattern fails the test until it is
taught here.
"""

import ast
from pathlib import Path

from django.utils import translation

from madoguchi.applications.models import Attachment
from madoguchi.applications.statemachine import Status, TRANSITIONS
from madoguchi.audit import sentences
from madoguchi.payments.models import Status as PaymentStatus

ROOT = Path(__file__).resolve().parents[2] / "madoguchi"
PATTERNS = {
    "applications.{}": lambda: {t.target for t in TRANSITIONS},
    "applications.attachment_{}": lambda: {s for s in Attachment.Sanitisation.values if s != "pending"},
    "payments.{}": lambda: set(PaymentStatus.values),
    "admin.{}.{}": lambda: None,  # admin.<model>.<verb>: the ADMIN_VERBS sentences
    "admin.{}.deleted": lambda: None,
}


def _pattern(node: ast.JoinedStr) -> str:
    return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)


def recorded_codes() -> tuple[set[str], set[str]]:
    codes, patterns = set(), set()
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            args = []
            if name in ("record", "_audit") and node.args:
                args.append(node.args[0])
            if name == "dict":
                args += [k.value for k in node.keywords if k.arg == "action"]
            for arg in args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    codes.add(arg.value if name != "_audit" else f"payments.{arg.value}")
                elif isinstance(arg, ast.JoinedStr):
                    patterns.add(_pattern(arg))
    return codes, patterns


def test_the_scan_finds_the_codes():
    codes, patterns = recorded_codes()
    assert {"staff.signed_in", "procedures.published", "payments.refunded", "notices.broadcast_sent"} <= codes
    assert len(codes) > 60
    assert "applications.{}" in patterns


def test_every_recorded_code_has_a_sentence():
    codes, patterns = recorded_codes()
    unknown_patterns = patterns - set(PATTERNS)
    assert not unknown_patterns, f"teach this test the values of {sorted(unknown_patterns)}"
    for pattern in patterns:
        values = PATTERNS[pattern]()
        if values is not None:
            codes |= {pattern.format(v) for v in values}
        else:  # admin.<model>.<verb>: any model, the verbs ADMIN_VERBS knows
            codes.add(pattern.replace("{}", "membership", 1).format("added"))
    missing = sorted(c for c in codes if not sentences.is_known(c))
    assert not missing, f"audit actions without a sentence: {missing}"
    assert Status.SUBMITTED in {t.target for t in TRANSITIONS}


def test_sentences_in_japanese_and_english_and_a_fallback():
    with translation.override("ja"):
        assert sentences.sentence("staff.signed_in") == "職員がログインしました"
        assert sentences.sentence("admin.membership.changed") == "設定管理画面でmembershipを変更しました"
        assert sentences.sentence("nobody.knows") == "記録された操作（nobody.knows）"
    with translation.override("en"):
        assert sentences.sentence("staff.signed_in") == "A member of staff signed in"
        assert sentences.sentence("nobody.knows") == "Recorded action (nobody.knows)"


def test_every_sentence_is_translated():
    with translation.override("en"):
        untranslated = [code for code, text in sentences.SENTENCES.items()
                        if any("\u3040" <= ch <= "\u9fff" for ch in str(text))]
    assert not untranslated
