"""Background work of online applications, run by the Tasks worker (`madoguchi worker`)."""

from django_tasks import task

from madoguchi.municipalities.models import Municipality

from .retention import purge


@task()
def purge_expired_applications() -> dict:
    """Retention and draft clean-up for every municipality (see retention.py)."""
    outcome = {}
    for municipality in Municipality.objects.order_by("code"):
        report = purge(municipality)
        outcome[municipality.code] = {"retention": report.count("retention"),
                                      "draft_expired": report.count("draft_expired"), "kept": len(report.kept)}
    return outcome
