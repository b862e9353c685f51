"""The procedure editor's services: rights by role and department, drafts, publish, retire."""

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.procedures import editor
from madoguchi.procedures.models import Procedure, ProcedureVersion
from madoguchi.procedures.services import DefinitionInvalid, install_catalog
from madoguchi.staff.models import Department, Membership
from madoguchi.staff.services import enrol_staff

from .test_definitions import juminhyo


@pytest.fixture
def shimin(muni_a):
    return Department.unscoped.create(municipality=muni_a, code="shimin", name="市民課")


@pytest.fixture
def kosodate(muni_a):
    return Department.unscoped.create(municipality=muni_a, code="kosodate", name="子育て支援課")


def member(municipality, username, role, department=None):
    user, membership, *_ = enrol_staff(municipality, username, role, department, password="x" * 20)
    return membership


@pytest.fixture
def admin(muni_a, shimin):
    return member(muni_a, "ed-admin", Membership.Role.ADMINISTRATOR, shimin)


@pytest.fixture
def reviewer(muni_a, kosodate):
    return member(muni_a, "ed-reviewer", Membership.Role.REVIEWER, kosodate)


@pytest.fixture
def viewer(muni_a, shimin):
    return member(muni_a, "ed-viewer", Membership.Role.VIEWER, shimin)


def actions(municipality):
    with tenant(municipality):
        return list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))


def test_an_administrator_copies_edits_and_publishes_a_new_procedure(muni_a, admin, kosodate):
    source = editor.catalog_definitions()["toshokan-riyou"]
    draft = editor.new_procedure(muni_a, admin, slug="toshokan-bunkan", source=source, actor=admin.user)
    assert (draft.number, draft.status, draft.definition["slug"]) == (1, "draft", "toshokan-bunkan")
    changed = dict(draft.definition, title={"ja": "分館の利用登録", "en": "Branch library card"})
    draft = editor.update_draft(draft, admin, changed, actor=admin.user)
    assert draft.definition["title"]["ja"] == "分館の利用登録"
    published = editor.publish(draft, admin, actor=admin.user)
    assert published.status == "published"
    with tenant(muni_a):
        assert Procedure.objects.get(slug="toshokan-bunkan").current_version().pk == draft.pk
    assert actions(muni_a)[-3:] == ["procedures.draft_saved", "procedures.draft_updated", "procedures.published"]
    # Once published, the version never changes again.
    with pytest.raises(DefinitionInvalid):
        editor.update_draft(published, admin, dict(changed, description={"ja": "x", "en": "x"}))


def test_a_new_version_keeps_the_applications_version_and_retires_the_previous(muni_a, admin):
    Department.unscoped.get_or_create(municipality=muni_a, code="shimin", defaults={"name": "市民課"})
    install_catalog(muni_a)
    with tenant(muni_a):
        first = Procedure.objects.get(slug="juminhyo-copy").current_version()
    draft = editor.new_version_from(first, admin, actor=admin.user)
    assert draft.number == first.number + 1 and draft.definition == first.definition
    changed = juminhyo()
    changed["fee"]["items"][0]["yen"] = 350
    editor.update_draft(draft, admin, changed)
    editor.publish(draft, admin)
    first.refresh_from_db()
    assert first.status == "retired" and first.definition["fee"]["items"][0]["yen"] == 300


def test_an_invalid_draft_is_saved_but_not_published_and_says_where(muni_a, admin):
    draft = editor.new_procedure(muni_a, admin, slug="broken-one", source=None)
    broken = dict(draft.definition, assurance="maybe")
    broken["form"] = {"sections": [{"id": "s", "title": {"ja": "a", "en": "a"}, "fields": []}]}
    editor.update_draft(draft, admin, broken)
    with pytest.raises(DefinitionInvalid) as exc:
        editor.publish(draft, admin)
    paths = [e.partition(":")[0] for e in exc.value.errors]
    assert "/assurance" in paths and "/form/sections/0/fields" in paths
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_the_department_must_be_one_of_the_municipality(muni_a, admin):
    draft = editor.new_procedure(muni_a, admin, slug="somewhere", source=None)
    editor.update_draft(draft, admin, dict(draft.definition, department="nowhere"))
    with pytest.raises(DefinitionInvalid) as exc:
        editor.publish(draft, admin)
    assert exc.value.errors == ["/department: 'nowhere' is not a department of this municipality"]


def test_the_blank_template_can_be_published(muni_a, admin):
    draft = editor.new_procedure(muni_a, admin, slug="blank-one", source=None)
    assert editor.publish_errors(muni_a, draft.definition) == []
    assert editor.publish(draft, admin).status == "published"


def test_a_reviewer_drafts_for_their_department_but_never_publishes(muni_a, admin, reviewer, shimin):
    source = editor.catalog_definitions()["juminhyo-copy"]  # 市民課's procedure
    draft = editor.new_procedure(muni_a, reviewer, slug="kosodate-copy", source=source)
    assert draft.definition["department"] == "kosodate"  # drafted for the reviewer's own department
    with pytest.raises(DefinitionInvalid, match="/department"):
        editor.update_draft(draft, reviewer, dict(draft.definition, department="shimin"))
    with pytest.raises(editor.EditRefused):
        editor.publish(draft, reviewer)
    draft.refresh_from_db()
    assert draft.status == "draft"
    shimin_draft = editor.new_procedure(muni_a, admin, slug="shimin-only", source=None)
    assert shimin_draft.definition["department"] == "shimin"
    with pytest.raises(editor.EditRefused):
        editor.update_draft(shimin_draft, reviewer, shimin_draft.definition)
    with pytest.raises(editor.EditRefused):
        editor.new_version_from(shimin_draft, reviewer)
    with pytest.raises(editor.EditRefused):
        editor.retire(shimin_draft.procedure, reviewer)


def test_a_viewer_changes_nothing(muni_a, admin, viewer):
    draft = editor.new_procedure(muni_a, admin, slug="viewed", source=None)
    with pytest.raises(editor.EditRefused):
        editor.new_procedure(muni_a, viewer, slug="viewer-made", source=None)
    with pytest.raises(editor.EditRefused):
        editor.update_draft(draft, viewer, draft.definition)
    with pytest.raises(editor.EditRefused):
        editor.discard_draft(draft, viewer)
    with tenant(muni_a):
        assert not Procedure.objects.filter(slug="viewer-made").exists()


def test_the_slug_is_the_procedures_identity(muni_a, admin):
    draft = editor.new_procedure(muni_a, admin, slug="keeps-slug", source=None)
    with pytest.raises(DefinitionInvalid, match="/slug"):
        editor.update_draft(draft, admin, dict(draft.definition, slug="other-slug"))
    with pytest.raises(DefinitionInvalid, match="/slug"):
        editor.new_procedure(muni_a, admin, slug="keeps-slug", source=None)


def test_retire_closes_a_procedure_and_publishing_opens_it_again(muni_a, admin):
    version = editor.publish(editor.new_procedure(muni_a, admin, slug="closing", source=None), admin)
    retired = editor.retire(version.procedure, admin, actor=admin.user)
    assert retired.pk == version.pk and retired.status == "retired"
    assert version.procedure.current_version() is None
    assert editor.retire(version.procedure, admin) is None  # nothing left to retire
    again = editor.publish(editor.new_version_from(version, admin), admin)
    assert version.procedure.current_version() == again
    assert "procedures.retired" in actions(muni_a)


def test_discarding_a_draft_keeps_published_versions(muni_a, admin):
    version = editor.publish(editor.new_procedure(muni_a, admin, slug="discards", source=None), admin)
    with pytest.raises(DefinitionInvalid):
        editor.discard_draft(version, admin)
    draft = editor.new_version_from(version, admin)
    editor.discard_draft(draft, admin, actor=admin.user)
    with tenant(muni_a):
        assert list(ProcedureVersion.objects.values_list("number", "status")) == [(1, "published")]
    assert "procedures.draft_discarded" in actions(muni_a)


@pytest.mark.parametrize("text, where", [
    ("{not json", "line 1 column 2: not JSON"),
    ("[1, 2]", "/: a definition is a JSON object"),
    ("[" * 100000 + "]" * 100000, "/"),
    ('{"slug": "' + "x" * (600 * 1024) + '"}', "/: a definition is at most"),
    ('{"slug": "a\\ud800"}', "/slug: a lone surrogate"),
    ('{"form": {"\\udfff": 1}}', "/form/\ufffd: a lone surrogate"),
])
def test_parse_definition_refuses_what_is_not_a_definition(text, where):
    with pytest.raises(DefinitionInvalid) as exc:
        editor.parse_definition(text)
    assert exc.value.errors[0].startswith(where)


def test_the_demo_has_every_department_the_catalog_routes_to():
    from madoguchi.demo.services import DEMO_MUNICIPALITIES

    demo = {code for code, _ in DEMO_MUNICIPALITIES[0]["departments"]}
    assert {d["department"] for d in editor.catalog_definitions().values()} <= demo


def test_an_application_keeps_the_version_it_was_made_on(muni_a, admin, settings, tmp_path):
    import datetime as dt

    from madoguchi.applications.models import Application
    from madoguchi.applications.services import submit
    from madoguchi.identity.models import Person
    from madoguchi.residents.models import ResidentRecord

    settings.MEDIA_ROOT = tmp_path
    for code in ("toshokan",):
        Department.unscoped.get_or_create(municipality=muni_a, code=code, defaults={"name": code})
    install_catalog(muni_a)
    with tenant(muni_a):
        first = Procedure.objects.get(slug="toshokan-riyou").current_version()
    person = Person.objects.create(verified_name="窓口　太郎", verified_birth_date=dt.date(1980, 4, 1), verified_sex="1",
                                   verified_address="東京都窓口市本町一丁目1番1号", verified_at=dt.datetime.now(dt.UTC))
    ResidentRecord.unscoped.create(municipality=muni_a, resident_number="100001", name="窓口　太郎",
                                   birth_date=dt.date(1980, 4, 1), sex="1", address="東京都窓口市本町一丁目1番1号",
                                   household_id="H1", is_household_head=True)
    data = {"applicant_name": "窓口　太郎", "applicant_name_kana": "まどぐち たろう", "applicant_birth_date": "1980-04-01",
            "applicant_address": "東京都窓口市本町一丁目1番1号", "relation": "resident", "notify_by": "none"}
    application, created = submit(first, person, data, idempotency_key="k" * 32)
    assert created
    draft = editor.new_version_from(first, admin)
    changed = dict(draft.definition, title={"ja": "図書館 利用登録（新）", "en": "Library card (new)"})
    editor.publish(editor.update_draft(draft, admin, changed), admin)
    with tenant(muni_a):
        application = Application.objects.select_related("version").get(pk=application.pk)
    assert application.version_id == first.pk and application.version.status == "retired"
    assert application.version.definition["title"]["ja"] == "図書館 利用登録"
    assert application.version.definition_sha256 == first.definition_sha256
