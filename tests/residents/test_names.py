from madoguchi.residents.names import search_key


def test_width_spaces_and_variation_selectors_do_not_matter():
    assert search_key("髙橋　太郎") == search_key("高橋 太郎") == "高橋太郎"
    assert search_key("葛\U000E0100飾\uFE00") == "葛飾"
    assert search_key("ＹＡＭＡＤＡ Ｔａｒｏ") == "yamadataro"


def test_kana_scripts_meet():
    assert search_key("ﾔﾏﾀﾞ ﾀﾛｳ") == search_key("ヤマダ　タロウ") == search_key("やまだ たろう")


def test_different_names_stay_different():
    assert search_key("高橋太郎") != search_key("高橋次郎")
    assert search_key("") == ""
