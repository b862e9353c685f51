"""Background work of exports, run by the Tasks worker (`madoguchi worker`)."""

import uuid

from django_tasks import task

from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant


@task()
def run_export(municipality_code: str, export_id: str) -> dict:
    from . import services
    from .models import Export

    municipality = Municipality.objects.get(code=municipality_code)
    with tenant(municipality):
        export = Export.objects.get(public_id=uuid.UUID(export_id))
        try:
            export = services.run(export)
        except Exception:
            # Never left "running" for ever: the page shows the failure, the audit trail has it.
            services._fail(export, "error", "出力中にエラーが発生しました。")
            raise
    return {"state": export.state, "rows": export.done}


@task()
def expire_exports() -> dict:
    """Deletes expired export files in every municipality (also run by `madoguchi exports expire`)."""
    from . import services

    return {m.code: services.expire(m) for m in Municipality.objects.order_by("code")}
