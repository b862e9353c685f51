"""card.mynumber: individual numbers found in free text (half- and full-width, alone or
grouped 4-4-4 by a space or a hyphen, as tests/individual_numbers.py recognises them) and
masked in place with the one masking rule."""

import pytest

from madoguchi.card import mynumber
from tests.applications.helpers import as_typed, synthetic_number, wrong_check_digit

N = synthetic_number(31)


@pytest.mark.parametrize("written", [
    N, f"{N[:4]} {N[4:8]} {N[8:]}", f"{N[:4]}-{N[4:8]}-{N[8:]}", as_typed(N),
    as_typed(N).replace(" ", "－"), as_typed(N).replace(" ", "\u3000"), as_typed(N).replace(" ", ""),
    f"{N[:4]}ー{N[4:8]}ー{N[8:]}",
])
def test_a_number_is_found_however_it_is_written(written):
    text = f"被害の状況：床上浸水。番号は{written}です。"
    assert [number for _, _, number in mynumber.find_in_text(text)] == [N]
    masked = mynumber.mask_in_text(text)
    assert masked == f"被害の状況：床上浸水。番号は{N[:4]} **** ****です。"


@pytest.mark.parametrize("text", [
    wrong_check_digit(N),               # no valid check digit: an ordinary number
    N + "5", "9" + N,                   # part of a longer run of digits (a card or account number)
    f"{N[:4]} {N[4:8]}  {N[8:]}",       # not grouped 4-4-4 by one separator
    N[:11], "03-1234-5678", "",
])
def test_what_is_not_an_individual_number_is_left_alone(text):
    assert mynumber.find_in_text(text) == [] and mynumber.mask_in_text(text) == text


def test_two_numbers_and_the_one_rule():
    other = synthetic_number(32)
    text = f"{N} と {as_typed(other)}"
    assert mynumber.mask_in_text(text) == f"{mynumber.mask(N)} と {mynumber.mask(other)}"
    assert mynumber.mask(N) == f"{N[:4]} **** ****"
    assert mynumber.is_valid(N) and not mynumber.is_valid(as_typed(N)) and not mynumber.is_valid(None)
