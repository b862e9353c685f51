"""The inbox: the department's applications only, filters, search over names, kana and
receipt numbers, keyset pages, counts per status, and a constant number of queries."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from madoguchi.applications.models import Application
from madoguchi.municipalities.tenancy import tenant

from .helpers import bulk_rows, submit_signed, tenshutsu_data

NAMES = [("佐藤　花子", "さとう はなこ"), ("鈴木　一郎", "スズキ イチロウ"), ("髙橋　健太", "たかはし けんた"),
         ("渡邉　美咲", "わたなべ みさき")]


def rows_of(response):
    return [a.receipt_number for a in response.context["page"].rows]


def test_submission_fills_the_back_office_columns_and_no_number(catalog_a, pki, taro):
    application = submit_signed(catalog_a, "tenshutsu", taro, pki.taro, tenshutsu_data())
    with tenant(catalog_a):
        a = Application.objects.get(pk=application.pk)
    assert a.department_code == "shimin"
    assert a.applicant_name == "窓口　太郎"
    assert a.search_key.startswith("窓口太郎 ")  # normalised: no spaces
    assert a.receipt_number in a.search_key
    assert {"窓口", "口太", "太郎"} <= set(a.search_grams.split(" "))


def test_inbox_lists_only_the_department(catalog_a, taro, staff):
    bulk_rows(catalog_a, "tenshutsu", taro, 3)
    bulk_rows(catalog_a, "jidou-teate", taro, 2)
    response = staff("reviewer").client.get("/139998/staff/applications/")
    assert response.status_code == 200
    assert len(rows_of(response)) == 3 and response.context["page"].total == 3
    other = staff("kosodate").client.get("/139998/staff/applications/")
    assert len(rows_of(other)) == 2
    assert "転出届" in response.content.decode() and "児童手当" not in response.content.decode()


def test_filters_counts_and_sorting(catalog_a, taro, staff):
    bulk_rows(catalog_a, "tenshutsu", taro, 4)
    bulk_rows(catalog_a, "juminhyo-copy", taro, 2, status="received")
    client = staff("reviewer").client
    page = client.get("/139998/staff/applications/").context["page"]
    assert page.counts["submitted"] == 4 and page.counts["received"] == 2 and page.total == 6
    assert len(rows_of(client.get("/139998/staff/applications/?status=received"))) == 2
    assert len(rows_of(client.get("/139998/staff/applications/?procedure=juminhyo-copy"))) == 2
    newest = rows_of(client.get("/139998/staff/applications/?procedure=tenshutsu"))
    oldest = rows_of(client.get("/139998/staff/applications/?procedure=tenshutsu&sort=old"))
    assert newest == list(reversed(oldest))
    today = dt.date.today()
    assert len(rows_of(client.get(f"/139998/staff/applications/?date_from={today + dt.timedelta(days=1)}"))) == 0
    assert len(rows_of(client.get(
        f"/139998/staff/applications/?date_from={today - dt.timedelta(days=3)}&date_to={today}"))) == 6
    assert len(rows_of(client.get("/139998/staff/applications/?assignee=none"))) == 6
    assert len(rows_of(client.get("/139998/staff/applications/?assignee=me"))) == 0


@pytest.mark.parametrize("query, expected", [
    ("佐藤", {0}), ("さとう", {0}), ("サトウ", {0}), ("すずき", {1}), ("スズキイチロウ", {1}),
    ("高橋", {2}), ("髙橋", {2}), ("渡辺", {3}), ("花子", {0}), ("花佐", set()), ("一郎すず", set()), ("子", {0}),
    ("#2", {2}), ("#3tail", {3}), ("ｽｽﾞｷ", {1}), ("　佐藤 花子 ", {0}),
])
def test_search_by_kanji_kana_and_receipt(catalog_a, taro, staff, query, expected):
    rows = bulk_rows(catalog_a, "tenshutsu", taro, 4, names=NAMES)
    if query.startswith("#"):  # a receipt number, whole or its digits only
        query = rows[int(query[1])].receipt_number[(5 if query.endswith("tail") else 0):]
    found = rows_of(staff("reviewer").client.get("/139998/staff/applications/", {"q": query}))
    assert set(found) == {rows[i].receipt_number for i in expected}


def test_keyset_pages_cover_everything_once(catalog_a, taro, staff, settings):
    from madoguchi.casework import services

    bulk_rows(catalog_a, "tenshutsu", taro, 23)
    client = staff("reviewer").client
    seen, url = [], "/139998/staff/applications/?sort=old"
    original = services.PAGE_SIZE
    services.PAGE_SIZE = 10
    try:
        while url:
            response = client.get(url)
            seen += rows_of(response)
            url = ("/139998/staff/applications/" + response.context["next_url"]) if response.context["next_url"] else ""
    finally:
        services.PAGE_SIZE = original
    assert len(seen) == 23 and len(set(seen)) == 23 and seen == sorted(seen)


@pytest.mark.parametrize("query", [
    "cursor=garbage", "date_from=2026-13-45", "status=nonsense", "assignee=someone", "procedure=%3Cscript%3E",
    "q=" + "あ" * 61, "date_from=2026-05-02&date_to=2026-05-01",
])
def test_bad_filters_are_a_400_with_a_message(catalog_a, taro, staff, query):
    response = staff("reviewer").client.get(f"/139998/staff/applications/?{query}")
    assert response.status_code == 400
    assert "panel--error" in response.content.decode()


def test_a_cursor_of_another_staff_member_is_refused(catalog_a, taro, staff):
    from madoguchi.casework import services

    bulk_rows(catalog_a, "tenshutsu", taro, 3)
    original = services.PAGE_SIZE
    services.PAGE_SIZE = 1
    try:
        next_url = staff("reviewer").client.get("/139998/staff/applications/").context["next_url"]
        assert next_url
        assert staff("reviewer2").client.get("/139998/staff/applications/" + next_url).status_code == 400
    finally:
        services.PAGE_SIZE = original


def test_queries_per_page_are_constant(catalog_a, taro, staff, no_random_purges):
    client = staff("reviewer").client
    client.get("/139998/staff/applications/")  # warm the session
    counts = []
    for total in (5, 50):
        with tenant(catalog_a):
            Application.objects.filter(status="submitted").delete()
        rows = bulk_rows(catalog_a, "tenshutsu", taro, total, names=NAMES)
        with tenant(catalog_a):  # every row assigned: the assignee column is joined, not queried per row
            Application.objects.filter(pk__in=[r.pk for r in Application.objects.filter(status="submitted")]) \
                .update(assignee=staff("reviewer").user)
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/139998/staff/applications/")
        assert len(response.context["page"].rows) == total == len(rows)
        counts.append(len(captured))
    assert counts[0] == counts[1], counts


def test_counts_are_capped_so_a_page_costs_the_same_at_any_size(catalog_a, taro, staff, monkeypatch):
    from madoguchi.casework import services

    monkeypatch.setattr(services, "COUNT_CAP", 3)
    bulk_rows(catalog_a, "tenshutsu", taro, 5)
    bulk_rows(catalog_a, "tenshutsu", taro, 2, status="received")
    response = staff("reviewer").client.get("/139998/staff/applications/")
    page = response.context["page"]
    assert page.counts["submitted"] == 3 and page.capped == {"submitted"} and page.counts["received"] == 2
    body = response.content.decode()
    assert "申請済み <span>(3+)</span>" in body and "すべて <span>(5+)</span>" in body
    assert len(page.rows) == 7  # the rows themselves are never capped


def test_counts_under_a_search_are_capped_in_one_query(catalog_a, taro, staff, monkeypatch):
    from madoguchi.casework import services

    bulk_rows(catalog_a, "tenshutsu", taro, 3, names=NAMES[:1])
    bulk_rows(catalog_a, "tenshutsu", taro, 2, status="received", names=NAMES[:1])
    bulk_rows(catalog_a, "tenshutsu", taro, 4, names=NAMES[1:2])
    client = staff("reviewer").client
    page = client.get("/139998/staff/applications/", {"q": "佐藤"}).context["page"]
    assert (page.counts["submitted"], page.counts["received"], page.capped) == (3, 2, set())
    monkeypatch.setattr(services, "SEARCH_COUNT_CAP", 4)
    page = client.get("/139998/staff/applications/", {"q": "さとう"}).context["page"]
    assert sum(page.counts.values()) == 4 and page.capped and len(page.rows) == 5
