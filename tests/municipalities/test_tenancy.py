import pytest
from django.apps import apps

from madoguchi.municipalities.tenancy import CrossTenantWrite, TenantOwned, TenantRequired, tenant
from madoguchi.staff.models import Department


def tenant_models():
    return [m for m in apps.get_models() if issubclass(m, TenantOwned)]


def test_there_are_tenant_owned_models():
    assert {m._meta.label for m in tenant_models()} >= {"staff.Department", "staff.Membership", "audit.AuditEvent"}


@pytest.mark.parametrize("model", tenant_models(), ids=lambda m: m._meta.label)
def test_every_index_and_unique_constraint_leads_with_the_municipality(model):
    for index in model._meta.indexes:
        assert index.fields[0] == "municipality", f"{model._meta.label} index {index.name}"
    for constraint in model._meta.constraints:
        fields = getattr(constraint, "fields", ())
        if fields and fields[0] != "municipality":
            # Only the deployment chain of the audit trail (no municipality) may differ.
            assert "municipality__isnull" in str(constraint.condition), f"{model._meta.label} {constraint.name}"
    for together in model._meta.unique_together:
        assert together[0] == "municipality"


@pytest.mark.django_db
def test_query_without_a_tenant_is_refused(muni_a):
    with pytest.raises(TenantRequired, match="tenant-owned"):
        list(Department.objects.all())


@pytest.mark.django_db
def test_query_inside_a_tenant_sees_only_its_rows(muni_a, muni_b):
    Department.unscoped.create(municipality=muni_a, code="a", name="A課")
    Department.unscoped.create(municipality=muni_b, code="b", name="B課")
    with tenant(muni_a):
        assert [d.code for d in Department.objects.all()] == ["a"]
        assert not Department.objects.filter(code="b").exists()
    with tenant(muni_b):
        assert [d.code for d in Department.objects.all()] == ["b"]


@pytest.mark.django_db
def test_create_in_scope_takes_the_tenant_and_refuses_another(muni_a, muni_b):
    with tenant(muni_a):
        made = Department.objects.create(code="x", name="X課")
        assert made.municipality_id == muni_a.pk
        with pytest.raises(CrossTenantWrite):
            Department(municipality=muni_b, code="y", name="Y課").save()


@pytest.mark.django_db
def test_save_without_any_municipality_is_refused(muni_a):
    with pytest.raises(TenantRequired):
        Department(code="z", name="Z課").save()
