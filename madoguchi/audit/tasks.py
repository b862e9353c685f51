"""Background work of the audit trail, run by the Tasks worker (`madoguchi worker`)."""

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django_tasks import TaskResultStatus, task

from madoguchi.municipalities.models import Municipality

from .services import chain_key, record, verify_chain


@task()
def verify_audit_chains() -> dict:
    """Recomputes every chain and checks it against the checkpoints (as `madoguchi audit
    verify`); the outcome is itself an event of the deployment chain."""
    from .checkpoints import check_marks, load_index

    targets = [None, *Municipality.objects.order_by("code")]
    index = load_index()
    check_marks(index, [chain_key(t) for t in targets])
    outcome = {}
    for municipality in targets:
        report = verify_chain(municipality, index=index)
        outcome[report.chain] = {"events": report.events, "broken_at": report.broken_at, "ok": report.ok,
                                 "checkpoint_seq": report.checkpoint.seq if report.checkpoint else None}
    broken = sorted(chain for chain, r in outcome.items() if not r["ok"])
    record("audit.chains_verified", municipality=None, data={"chains": len(outcome), "broken": broken[:50]})
    return outcome


class CheckpointRefused(RuntimeError):
    """A chain is behind its last checkpoint: the task fails so the worker's log and the task
    results show it (`madoguchi audit verify` names the missing events)."""


@task()
def write_audit_checkpoints() -> dict:
    """Writes the checkpoints of the chains whose head moved, then queues itself again in
    MADOGUCHI_AUDIT_CHECKPOINT_SECONDS (`madoguchi worker` queues the first at start)."""
    from .checkpoints import write_checkpoints

    try:
        result = write_checkpoints()
    finally:
        schedule_checkpoints(delay_seconds=settings.AUDIT_CHECKPOINT_SECONDS)
    if result.refused:
        raise CheckpointRefused("; ".join(result.refused)[:1000])
    return {"written": len(result.written), "unchanged": result.unchanged}


def schedule_checkpoints(delay_seconds: int = 0) -> bool:
    """Queues write_audit_checkpoints unless one is already waiting, so workers started
    together, restarts and the task's own re-queueing keep one schedule, not many."""
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(task_path=write_audit_checkpoints.module_path,
                                          status=TaskResultStatus.READY)
    if waiting.exists():
        return False
    task_ = write_audit_checkpoints
    if delay_seconds > 0:
        task_ = task_.using(run_after=timezone.now() + dt.timedelta(seconds=delay_seconds))
    task_.enqueue()
    return True
