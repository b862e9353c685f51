"""Background work of the audit trail, run by the Tasks worker (`madoguchi worker`)."""

from django_tasks import task

from madoguchi.municipalities.models import Municipality

from .services import record, verify_chain


@task()
def verify_audit_chains() -> dict:
    """Recomputes every chain; the outcome is itself an event of the deployment chain."""
    outcome = {}
    for municipality in [None, *Municipality.objects.order_by("code")]:
        report = verify_chain(municipality)
        outcome[report.chain] = {"events": report.events, "broken_at": report.broken_at}
    broken = sorted(chain for chain, r in outcome.items() if r["broken_at"] is not None)
    record("audit.chains_verified", municipality=None, data={"chains": len(outcome), "broken": broken[:50]})
    return outcome
