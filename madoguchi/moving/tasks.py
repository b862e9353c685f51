"""Background work of moving, run by the Tasks worker: signing and delivering a package, signing
a 転入通知."""

from django_tasks import task

from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant


@task()
def produce_package(municipality_code: str, move_id: int) -> dict:
    from . import services
    from .models import OutgoingMove

    municipality = Municipality.objects.get(code=municipality_code)
    with tenant(municipality):
        move = services.produce(OutgoingMove.objects.get(pk=move_id))
    return {"move": move.pk, "status": move.status}


@task()
def produce_notice(municipality_code: str, incoming_id: int) -> dict:
    from . import services
    from .models import IncomingMove

    municipality = Municipality.objects.get(code=municipality_code)
    with tenant(municipality):
        incoming = services.produce_notice(IncomingMove.objects.get(pk=incoming_id))
    return {"incoming": incoming.pk, "notice": bool(incoming.notice)}
