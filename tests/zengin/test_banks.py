"""The bank and branch master from zengin-code, behind madoguchi.zengin.banks."""

import pytest

from madoguchi.zengin import banks, is_zengin_text


def test_known_banks_and_branches():
    yucho = banks.bank("9900")
    assert yucho.name == "ゆうちょ" and yucho.zengin_kana == "ﾕｳﾁﾖ"
    mizuho = banks.bank("0001")
    assert mizuho.name == "みずほ"
    tokyo = banks.branch("0001", "001")
    assert tokyo.name == "東京営業部" and tokyo.zengin_kana == "ﾄｳｷﾖｳ"
    assert banks.master_version().startswith("1.1.0.")


def test_unknown_codes():
    with pytest.raises(banks.UnknownBank):
        banks.bank("0002")
    with pytest.raises(banks.UnknownBranch):
        banks.branch("0001", "999")
    with pytest.raises(banks.UnknownBank):
        banks.branch("0002", "001")


def test_every_name_in_the_master_fits_a_zengin_file():
    all_banks = banks._master()[0].values()
    assert len(all_banks) > 1000
    for bank in all_banks:
        assert is_zengin_text(bank.zengin_kana), bank
        assert len(bank.file_name) <= 15
        for branch in banks.branches(bank.code):
            assert is_zengin_text(branch.zengin_kana), branch
            assert len(branch.file_name) <= 15


def test_search_by_code_name_kana_any_width():
    assert banks.search_banks("0001")[0].code == "0001"
    assert banks.search_banks("みずほ")[0].code == "0001"
    assert banks.search_banks("ミズホ")[0].code == "0001"
    assert banks.search_banks("ﾐｽﾞﾎ")[0].code == "0001"
    assert banks.search_banks("ゆうちょ")[0].code == "9900"
    assert [b.code for b in banks.search_branches("0001", "丸の内")] == ["004"]
    assert banks.search_branches("0001", "001")[0].name == "東京営業部"
    assert banks.search_banks("") == []
    assert banks.search_banks("存在しない銀行名") == []
