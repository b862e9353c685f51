"""Assigning an application to a reviewer (the back office's one change outside the state
machine). casework decides who may assign and to whom; this writes it, under the row's
lock, and audits it."""

from django.db import transaction

from madoguchi.audit.services import record

from .models import Application


def assign(application: Application, assignee, actor) -> Application:
    """Sets (or, with None, clears) the application's assignee; an assignment that changes
    nothing is not written and not audited. Returns the locked, updated row."""
    with transaction.atomic():
        locked = Application.objects.select_for_update().get(pk=application.pk)
        previous = locked.assignee_id
        if previous == (assignee.pk if assignee else None):
            return locked
        locked.assignee = assignee
        locked.save(update_fields=["assignee", "updated_at"])
        record("casework.assigned", actor=actor, obj=locked, data={
            "receipt": locked.receipt_number, "assignee": assignee.pk if assignee else None, "previous": previous})
    application.assignee = assignee
    return locked
