"""Background work of notices, run by the Tasks worker (`madoguchi worker`)."""

from django_tasks import task

from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant


@task()
def send_batch(municipality_code: str, delivery_ids: list[int]) -> dict:
    """One batch of a fan-out (NOTICES_BATCH_SIZE deliveries): each one this worker claims
    is sent; a retried or duplicated batch sends nothing twice (notices/services.py)."""
    from . import services

    with tenant(Municipality.objects.get(code=municipality_code)):
        return services.send_batch(delivery_ids)


@task()
def send_delivery(municipality_code: str, delivery_id: str) -> str:
    """One delivery by its public id (tasks queued before batches; an explicit attempt)."""
    from . import services

    with tenant(Municipality.objects.get(code=municipality_code)):
        return services.attempt(delivery_id)


@task()
def send_verification(municipality_code: str, address_id: int) -> None:
    from . import emails

    with tenant(Municipality.objects.get(code=municipality_code)):
        emails.send_verification(address_id)
