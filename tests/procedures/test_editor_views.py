"""The procedure editor's pages: list, new, edit, preview, publish, retire; bad input; rights."""

import json

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.procedures.models import Procedure, ProcedureVersion
from madoguchi.procedures.services import install_catalog
from madoguchi.staff.models import Department, Membership
from madoguchi.staff.services import enrol_staff
from tests.conftest import PASSWORD, sign_in

BASE = "/139998/staff/procedures/"


@pytest.fixture
def departments(muni_a):
    return {code: Department.unscoped.create(municipality=muni_a, code=code, name=name)
            for code, name in [("shimin", "市民課"), ("kosodate", "子育て支援課"), ("toshokan", "図書館")]}


def signed_in(client, municipality, username, role, department):
    user, membership, device, _ = enrol_staff(municipality, username, role, department, password=PASSWORD)
    assert sign_in(client, municipality, user, device).status_code == 302
    return client


@pytest.fixture
def admin(client, muni_a, departments):
    return signed_in(client, muni_a, "pages-admin", Membership.Role.ADMINISTRATOR, departments["shimin"])


@pytest.fixture
def reviewer(client, muni_a, departments):
    return signed_in(client, muni_a, "pages-reviewer", Membership.Role.REVIEWER, departments["kosodate"])


@pytest.fixture
def catalog(muni_a, departments):
    install_catalog(muni_a)
    return muni_a


def procedure(municipality, slug):
    with tenant(municipality):
        return Procedure.objects.get(slug=slug)


def only_version(municipality, slug):
    with tenant(municipality):
        return ProcedureVersion.objects.get(procedure__slug=slug)


def versions(municipality, procedure):
    with tenant(municipality):
        return [(v.number, v.status) for v in ProcedureVersion.objects.filter(procedure=procedure).order_by("number")]


def new(client, slug, source):
    response = client.post(BASE + "new/", {"slug": slug, "source": source})
    assert response.status_code == 302, response.content.decode()[:3000]
    return response["Location"]


def test_list_new_edit_preview_publish(admin, catalog, muni_a):
    listing = admin.get(BASE).content.decode()
    assert "住民票の写し等の交付請求" in listing and "第1版" in listing
    where = new(admin, "toshokan-bunkan", "toshokan-riyou")
    page = admin.get(where)
    assert page.status_code == 200 and "問題はありません" in page.content.decode()
    text = page.context["json_form"].initial["definition"]
    definition = json.loads(text)
    definition["form"]["sections"][0]["fields"][0]["label"]["ja"] = "お名前（分館）"
    assert admin.post(where, {"part": "definition", "definition": json.dumps(definition)}).status_code == 302
    basics = dict(page.context["basics"].initial, title_ja="図書館 分館の利用登録", part="basics",
                  fee_kind="fixed", fee_yen="100", open_from="", open_until="")
    basics = {k: ("" if v is None else v) for k, v in basics.items()}
    response = admin.post(where, basics)
    assert response.status_code == 302, response.content.decode()[:3000]
    version = only_version(muni_a, "toshokan-bunkan")
    assert version.definition["title"]["ja"] == "図書館 分館の利用登録"
    assert version.definition["fee"] == {"kind": "fixed", "yen": 100}
    assert version.definition["form"]["sections"][0]["fields"][0]["label"]["ja"] == "お名前（分館）"
    # The preview is the resident's form, nothing prefilled, and a POST stores nothing.
    preview = admin.get(where + "preview/")
    body = preview.content.decode()
    assert preview.status_code == 200 and "お名前（分館）" in body and "プレビュー" in body
    assert [t.name for t in preview.templates][0] == "applications/form.html"
    checked = admin.post(where + "preview/", {})
    assert checked.status_code == 400 and "入力してください。" in checked.content.decode()
    # The resident catalog does not show a draft.
    assert "図書館 分館の利用登録" not in admin.get("/139998/procedures/").content.decode()
    assert admin.post(where + "publish/").status_code == 302
    version.refresh_from_db()
    assert version.status == "published"
    assert "図書館 分館の利用登録" in admin.get("/139998/procedures/").content.decode()
    with tenant(muni_a):
        done = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"procedures.draft_saved", "procedures.draft_updated", "procedures.published"} <= done


def test_a_published_version_is_read_only_and_a_new_version_is_copied(admin, catalog, muni_a):
    p = procedure(muni_a, "juminhyo-copy")
    page = admin.get(f"{BASE}{p.pk}/versions/1/")
    assert page.status_code == 200 and "変更できません" in page.content.decode()
    refused = admin.post(f"{BASE}{p.pk}/versions/1/", {"part": "definition", "definition": "{}"})
    assert refused.status_code == 409
    assert admin.post(f"{BASE}{p.pk}/versions/1/copy/")["Location"].endswith(f"{p.pk}/versions/2/")
    assert admin.post(f"{BASE}{p.pk}/versions/2/publish/").status_code == 302
    assert versions(muni_a, p) == [(1, "retired"), (2, "published")]
    assert admin.post(f"{BASE}{p.pk}/retire/").status_code == 302
    assert p.current_version() is None
    assert admin.get("/139998/procedures/juminhyo-copy/").status_code == 404


@pytest.mark.parametrize("body, status, shown", [
    ("{not json", 400, "not JSON"),
    ("[]", 400, "a definition is a JSON object"),
    ('{"slug": "toshokan-riyou"}', 400, "/slug"),
    # Lone surrogates (a JSON escape the textarea may hold), in a value and in a key: a form error
    # naming the place, not a 500 while the draft is canonicalised or stored.
    ('{"title": {"ja": "\\ud800"}}', 400, "/title/ja: a lone surrogate"),
    ('{"schema": {"\\udbff": {}}}', 400, "/schema/\ufffd: a lone surrogate"),
])
def test_bad_definitions_are_refused_with_the_reason(admin, catalog, muni_a, body, status, shown):
    where = new(admin, "bad-input", "blank")
    response = admin.post(where, {"part": "definition", "definition": body})
    assert response.status_code == status and shown in response.content.decode()
    version = only_version(muni_a, "bad-input")
    assert version.definition["slug"] == "bad-input"  # unchanged


def test_a_definition_against_the_meta_schema_is_saved_but_not_published(admin, catalog, muni_a):
    where = new(admin, "meta-broken", "blank")
    definition = json.loads(admin.get(where).context["json_form"].initial["definition"])
    definition["retention"] = "forever"
    definition["schema"]["properties"]["extra"] = {"type": "string"}
    assert admin.post(where, {"part": "definition", "definition": json.dumps(definition)}).status_code == 302
    page = admin.get(where).content.decode()
    # In Japanese, naming the setting; the administrator also sees the path and the original message.
    assert "保存期間: 選べる値ではありません。" in page and "/retention: &#x27;forever&#x27; is not one of" in page
    assert 'id="publish" disabled' in page  # publish is disabled while problems remain
    response = admin.post(where + "publish/")  # and refused by the server too
    assert response.status_code == 400 and "保存期間: 選べる値ではありません。" in response.content.decode()
    assert only_version(muni_a, "meta-broken").status == "draft"
    assert admin.get(where + "preview/").status_code == 400  # no preview of what cannot be published


def test_huge_bodies_are_refused(admin, catalog, muni_a):
    where = new(admin, "huge", "blank")
    big = json.dumps({"slug": "huge", "x": "y" * (600 * 1024)})
    response = admin.post(where, {"part": "definition", "definition": big})
    assert response.status_code == 400 and "524288" in response.content.decode()
    too_big = admin.post(where, {"part": "definition", "definition": "y" * (3 * 1024 * 1024)})
    assert too_big.status_code == 413 and "送信された内容が大きすぎます" in too_big.content.decode()
    assert only_version(muni_a, "huge").definition["slug"] == "huge"


def test_bad_new_procedure_input(admin, catalog):
    for data in ({"slug": "Bad Slug", "source": "blank"}, {"slug": "ok-slug", "source": "no-such"},
                 {"slug": "juminhyo-copy", "source": "blank"}, {}):
        assert admin.post(BASE + "new/", data).status_code == 400


def test_a_reviewer_drafts_for_their_department_and_cannot_publish(reviewer, catalog, muni_a):
    where = new(reviewer, "kosodate-form", "jidou-teate")
    assert reviewer.post(where + "publish/").status_code == 403
    assert only_version(muni_a, "kosodate-form").status == "draft"
    jumin = procedure(muni_a, "juminhyo-copy")
    assert reviewer.post(f"{BASE}{jumin.pk}/versions/1/copy/").status_code == 403
    assert reviewer.post(f"{BASE}{jumin.pk}/retire/").status_code == 403
    assert jumin.current_version() is not None
    page = reviewer.get(where).content.decode()
    assert "公開できるのは管理者だけです" in page and "この版を公開する" not in page


def test_a_viewer_only_reads(client, catalog, muni_a, departments):
    viewer = signed_in(client, muni_a, "pages-viewer", Membership.Role.VIEWER, departments["shimin"])
    jumin = procedure(muni_a, "juminhyo-copy")
    assert viewer.get(BASE).status_code == 200
    assert viewer.get(f"{BASE}{jumin.pk}/versions/1/preview/").status_code == 200
    assert viewer.get(BASE + "new/").status_code == 403
    assert viewer.post(f"{BASE}{jumin.pk}/versions/1/copy/").status_code == 403
    assert len(versions(muni_a, jumin)) == 1


def test_another_municipalitys_procedure_is_a_404(client, catalog, muni_a, muni_b):
    install_catalog(muni_b)
    theirs = procedure(muni_a, "juminhyo-copy")
    staff_b = signed_in(client, muni_b, "pages-admin-b", Membership.Role.ADMINISTRATOR, None)
    base_b = "/279994/staff/procedures/"
    for path in (f"{theirs.pk}/", f"{theirs.pk}/versions/1/", f"{theirs.pk}/versions/1/preview/"):
        assert staff_b.get(base_b + path).status_code == 404
    for path in (f"{theirs.pk}/retire/", f"{theirs.pk}/versions/1/copy/", f"{theirs.pk}/versions/1/publish/"):
        assert staff_b.post(base_b + path).status_code == 404
    assert theirs.current_version().number == 1
    # A's pages themselves send B's staff member to A's sign-in.
    assert staff_b.get(BASE).status_code == 302


def test_anonymous_visitors_are_sent_to_sign_in(client, catalog):
    response = client.get(BASE)
    assert response.status_code == 302 and "/139998/staff/login/" in response["Location"]


def test_csrf_is_enforced(catalog, muni_a, departments):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    user, membership, device, _ = enrol_staff(muni_a, "csrf-admin", Membership.Role.ADMINISTRATOR,
                                              departments["shimin"], password=PASSWORD)
    from tests.conftest import totp_now

    strict.force_login(user)  # the session alone; a POST without a token must still fail
    jumin = procedure(muni_a, "juminhyo-copy")
    assert strict.post(f"{BASE}{jumin.pk}/retire/").status_code == 403
    assert jumin.current_version() is not None
    assert totp_now(device)


def test_out_of_range_ids_are_404(admin, catalog, muni_a):
    huge = "9" * 30
    p = procedure(muni_a, "juminhyo-copy")
    for path in (f"{huge}/", f"{p.pk}/versions/{huge}/", f"{p.pk}/versions/{huge}/preview/"):
        assert admin.get(BASE + path).status_code == 404
    assert admin.post(f"{BASE}{huge}/retire/").status_code == 404


def test_basics_with_bad_values_are_refused(admin, catalog, muni_a):
    where = new(admin, "basics-bad", "blank")
    base = {"part": "basics", "title_ja": "名", "title_en": "n", "department": "shimin", "assurance": "login",
            "fee_kind": "none", "one_open_per": "none"}
    for changes, message in (({"department": "nowhere"}, ""), ({"assurance": "maybe"}, ""),
                             ({"fee_kind": "fixed"}, "定額の手数料を入力してください。"),
                             ({"fee_kind": "fixed", "fee_yen": "-1"}, ""), ({"open_from": "2026-13-01"}, ""),
                             ({"open_from": "2026-05-01", "open_until": "2026-04-01"}, "受付終了日は開始日より後にしてください。"),
                             ({"title_ja": ""}, ""), ({"min_age": "20", "max_age": "18"}, "年齢の上限は下限以上にしてください。"),
                             ({"min_age": "-1"}, ""), ({"one_open_per": "family"}, ""),
                             ({"keywords": "ごみ、" + "あ" * 41}, "ことばは1つ40文字以内にしてください。")):
        response = admin.post(where, dict(base, **changes))
        assert response.status_code == 400 and message in response.content.decode(), changes
    assert only_version(muni_a, "basics-bad").definition["title"]["ja"] == "新しい手続き"
    assert admin.post(where, base).status_code == 302  # the same form, valid: so each refusal was for its change


def test_eligibility_and_keywords_without_json(admin, catalog, muni_a):
    where = new(admin, "basics-rules", "blank")
    base = {"part": "basics", "title_ja": "名", "title_en": "n", "department": "shimin", "assurance": "login",
            "fee_kind": "none", "one_open_per": "household", "residents_only": "on", "min_age": "18",
            "keywords": "粗大ごみ, 家具、家具 、回収"}
    assert admin.post(where, base).status_code == 302
    d = only_version(muni_a, "basics-rules").definition
    assert d["eligibility"] == {"residents_only": True, "min_age": 18}
    assert d["keywords"] == ["粗大ごみ", "家具", "回収"] and d["one_open_per"] == "household"
    assert admin.get(where).context["basics"].initial["keywords"] == "粗大ごみ、家具、回収"
    assert admin.post(where, dict(base, residents_only="", min_age="", keywords="")).status_code == 302
    d = only_version(muni_a, "basics-rules").definition
    assert "eligibility" not in d and "keywords" not in d
