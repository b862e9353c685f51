"""Names into the Zengin character set: every width in, half-width large kana out, and
every character without a Zengin form reported with its position — never substituted."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madoguchi.zengin import UnconvertibleName, is_zengin_text, names_match, to_zengin_kana
from madoguchi.zengin.charset import ZENGIN_CHARACTERS


@pytest.mark.parametrize("text, expected", [
    ("やまだ たろう", "ﾔﾏﾀﾞ ﾀﾛｳ"),
    ("ヤマダ　タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ"),              # full-width space
    ("ｷｭｳﾖ ｲﾁﾛｳ", "ｷﾕｳﾖ ｲﾁﾛｳ"),               # half-width small kana written large
    ("キュウヨ イチロウ", "ｷﾕｳﾖ ｲﾁﾛｳ"),
    ("がっこう", "ｶﾞﾂｺｳ"),
    ("カ\u3099ッコウ", "ｶﾞﾂｺｳ"),                # NFD: combining voiced mark
    ("パーク", "ﾊﾟ-ｸ"),                        # long vowel → hyphen
    ("ﾊﾟｰｸ", "ﾊﾟ-ｸ"),
    ("ヴァイオリン", "ｳﾞｱｲｵﾘﾝ"),
    ("ヵヶヮゎ", "ｶｹﾜﾜ"),
    ("ｶ)ﾐﾅﾄｼｮｳｼﾞ", "ｶ)ﾐﾅﾄｼﾖｳｼﾞ"),
    ("ＡＢＣ（カ）．／－", "ABC(ｶ)./-"),
    ("smith john", "SMITH JOHN"),
    ("  ヤマダ  ", "ﾔﾏﾀﾞ"),
    ("をんな", "ｦﾝﾅ"),
])
def test_conversion(text, expected):
    assert to_zengin_kana(text) == expected
    assert is_zengin_text(expected)


@pytest.mark.parametrize("text, problems", [
    ("山田 太郎", [(0, "山"), (1, "田"), (3, "太"), (4, "郎")]),
    ("ジョン・スミス", [(3, "・")]),
    ("ヱビス", [(0, "ヱ")]),
    ("ヰ", [(0, "ヰ")]),
    ("ヤマダ,タロウ", [(3, ",")]),
    ("ABC株式会社", [(3, "株"), (4, "式"), (5, "会"), (6, "社")]),
    ("ﾔﾏﾀﾞ｢ﾀﾛｳ｣", [(4, "｢"), (8, "｣")]),
    ("ｱ\U0001F600", [(1, "\U0001F600")]),
])
def test_unconvertible_characters_are_all_reported(text, problems):
    with pytest.raises(UnconvertibleName) as caught:
        to_zengin_kana(text)
    assert list(caught.value.problems) == problems
    assert caught.value.positions == tuple(i for i, _ in problems)
    # The message counts from 1 and names each character.
    for index, char in problems:
        assert f"{char!r} at {index + 1}" in str(caught.value)


def test_names_match_across_widths_and_spaces():
    assert names_match("ﾔﾏﾀﾞ ﾀﾛｳ", "やまだ　たろう")
    assert names_match("ヤマダタロウ", "ﾔﾏﾀﾞ ﾀﾛｳ")
    assert names_match("キョウコ", "ｷﾖｳｺ")
    assert not names_match("ヤマダタロウ", "ヤマダハナコ")
    assert not names_match("山田", "山田")  # nothing that cannot be converted matches


@given(st.text())
def test_any_text_converts_into_the_set_or_names_every_problem(text):
    try:
        out = to_zengin_kana(text)
    except UnconvertibleName as exc:
        assert exc.problems
        for index, char in exc.problems:
            assert text[index] == char
        return
    assert all(c in ZENGIN_CHARACTERS for c in out)
    assert out == out.strip(" ")


@given(st.text(alphabet=sorted(ZENGIN_CHARACTERS)))
def test_zengin_text_is_unchanged_but_for_outer_spaces(text):
    assert to_zengin_kana(text) == text.strip(" ")


@given(st.text(alphabet=st.characters(min_codepoint=0x3041, max_codepoint=0x3093)))
def test_every_hiragana_name_converts(text):
    # Hiragana ぁ–ん all have a Zengin form except ゐ ゑ (historical kana: reported).
    if "ゐ" in text or "ゑ" in text:
        with pytest.raises(UnconvertibleName):
            to_zengin_kana(text)
    else:
        assert is_zengin_text(to_zengin_kana(text))
