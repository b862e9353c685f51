"""The search at scale: on PostgreSQL a GIN index over the grams, leading with the
municipality; bigrams that match apart are dropped by the substring recheck."""

import pytest
from django.db import connection

from madoguchi.applications.models import Application
from madoguchi.applications.queries import search_filter
from madoguchi.municipalities.tenancy import tenant

from .helpers import bulk_rows


def test_bigrams_that_match_apart_are_not_a_match(catalog_a, taro):
    [row] = bulk_rows(catalog_a, "tenshutsu", taro, 1, names=[("山田田中", "やまだたなか")])
    with tenant(catalog_a):
        assert list(search_filter(Application.objects.all(), "山田中")) == []  # 山田 + 田中, not adjacent
        assert list(search_filter(Application.objects.all(), "田田中")) == [row]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the GIN index is PostgreSQL's")
def test_the_gin_index_leads_with_the_municipality(catalog_a, taro):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'application_search_grams'")
        [(definition,)] = cursor.fetchall()
    assert "USING gin (municipality_id, string_to_array(search_grams" in definition
    # Whether the planner picks it depends on the table's size: bench/inbox.py prints the
    # plan of the name search at a million rows (docs/casework.md has the figures).
    [row] = bulk_rows(catalog_a, "tenshutsu", taro, 1, names=[("佐藤　花子", "さとう はなこ")])
    with tenant(catalog_a):
        assert list(search_filter(Application.objects.all(), "佐藤花")) == [row]


def test_common_and_rare_names_find_the_same_rows(catalog_a, taro, monkeypatch):
    """Past SEARCH_GIN_MAX candidates the search drops the grams condition: same answer."""
    from madoguchi.applications import queries

    rows = bulk_rows(catalog_a, "tenshutsu", taro, 3, names=[("井上　誠", "いのうえ まこと")])
    bulk_rows(catalog_a, "tenshutsu", taro, 2, names=[("上井　誠", "うわい まこと")])
    with tenant(catalog_a):
        rare = set(search_filter(Application.objects.all(), "いのうえ"))
        monkeypatch.setattr(queries, "SEARCH_GIN_MAX", 2)
        common = set(search_filter(Application.objects.all(), "いのうえ"))
    assert rare == common == set(rows)
