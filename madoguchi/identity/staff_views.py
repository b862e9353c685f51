"""Staff resolve identity links the card could not make alone (no or several matches)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from madoguchi.residents.models import ResidentRecord
from madoguchi.residents.names import search_key
from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from .models import LinkReview
from .services import ReviewError, resolve_review

DECIDERS = (Membership.Role.ADMINISTRATOR, Membership.Role.REVIEWER)


@never_cache
@staff_member_required()
def review_queue(request, code):
    reviews = LinkReview.objects.filter(status=LinkReview.Status.OPEN).order_by("created_at")[:200]
    return render(request, "identity/review_queue.html", {"reviews": reviews})


def _candidates(review: LinkReview):
    """The records the matcher found, plus those sharing the birth date (evidence for staff)."""
    ids = set(review.candidate_ids)
    birth = review.evidence.get("birth_date")
    qs = ResidentRecord.objects.filter(pk__in=ids)
    if birth:
        qs = qs | ResidentRecord.objects.filter(birth_date=birth)
    return list(qs.order_by("resident_number")[:50])


@never_cache
@require_http_methods(["GET", "POST"])
@staff_member_required()
def review_detail(request, code, review_id):
    review = LinkReview.objects.filter(pk=review_id).select_related("person").first()
    if review is None:
        raise Http404("no such review")
    candidates = _candidates(review) if review.status == LinkReview.Status.OPEN else []
    if request.method == "POST":
        if request.membership.role not in DECIDERS:
            return render(request, "403.html", {"reason": _("紐付けを判断できるのは審査担当と管理者です。")}, status=403)
        decision = request.POST.get("decision", "")
        record_id = None
        if decision == "link":
            try:
                record_id = int(request.POST.get("record", ""))
            except ValueError:
                messages.error(request, _("紐付ける住民記録を選んでください。"))
                return redirect("identity_reviews:detail", code, review.pk)
        elif decision != "reject":
            messages.error(request, _("判断を選んでください。"))
            return redirect("identity_reviews:detail", code, review.pk)
        try:
            resolve_review(review, request.user, record_id)
        except ReviewError as exc:
            messages.error(request, _("処理できませんでした: %(reason)s") % {"reason": exc})
            return redirect("identity_reviews:detail", code, review.pk)
        messages.success(request, _("紐付けました。") if record_id else _("却下しました。"))
        return redirect("identity_reviews:queue", code)
    evidence_key = search_key(review.evidence.get("name", ""))
    return render(request, "identity/review_detail.html", {
        "review": review, "candidates": candidates, "evidence_key": evidence_key,
        "can_decide": request.membership.role in DECIDERS,
    })
