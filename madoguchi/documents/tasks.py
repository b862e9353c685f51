"""Background work of signed documents, run by the Tasks worker (`madoguchi worker`)."""

import uuid

from django_tasks import task

from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant


@task()
def issue_document(municipality_code: str, application_id: str, kind: str, payment: dict | None = None) -> dict:
    from madoguchi.applications import services as applications

    from . import services

    municipality = Municipality.objects.get(code=municipality_code)
    with tenant(municipality):
        application = applications.by_public_id(uuid.UUID(application_id))
        document = services.issue(application, kind, payment)
    return {"document": str(document.public_id), "sha256": document.sha256}
