"""The one shape of every plug point (madoguchi/registry.py)."""

import pytest

from madoguchi.registry import Registry, UnknownName


def test_names_map_to_implementations_and_say_what_they_are():
    things = Registry("widget")
    things.register("b", "the second")(str.upper)
    things.register("a", "development: the first")(str.lower)
    assert things.get("a") is str.lower and things.get("b") is str.upper
    assert things.names() == ["a", "b"]
    assert [e.description for e in things.entries()] == ["development: the first", "the second"]
    assert "a" in things and "c" not in things


def test_an_unknown_name_is_refused_with_the_known_ones():
    things = Registry("widget")
    things.register("b", "")(str.upper)
    things.register("a", "")(str.lower)
    with pytest.raises(UnknownName) as refused:
        things.get("nfc")
    assert str(refused.value) == "unknown widget 'nfc'; known: a, b"
    assert refused.value.known == ["a", "b"]


def test_a_name_registers_once():
    things = Registry("widget")
    things.register("a", "")(str.lower)
    with pytest.raises(ValueError, match="widget 'a' is registered twice"):
        things.register("a", "")(str.upper)
