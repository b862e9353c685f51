import pytest
from django.core.exceptions import ValidationError

from madoguchi.municipalities.codes import InvalidMunicipalityCode, check_digit, prefecture_of, validate_code
from madoguchi.municipalities.models import Municipality


@pytest.mark.parametrize("code", ["130001", "010006", "011002", "141003", "271004", "231002"])
def test_real_codes_from_the_standard_are_valid(code):
    # Prefecture codes (xx0001) are valid codes but not municipalities.
    if code[2:5] == "000":
        with pytest.raises(InvalidMunicipalityCode):
            validate_code(code)
    else:
        assert validate_code(code) == code
    assert check_digit(code[:5]) == int(code[5])


@pytest.mark.parametrize("code", ["141003", "271004", "231002", "011002"])
def test_check_digit(code):
    assert check_digit(code[:5]) == int(code[5])


@pytest.mark.parametrize(
    "code, message",
    [
        ("141004", "検査数字"),
        ("14100", "6桁"),
        ("1410033", "6桁"),
        ("14100a", "6桁"),
        ("991003", "都道府県コード"),
        ("１４１００３", "6桁"),  # full-width digits are not accepted
    ],
)
def test_invalid_codes_say_why(code, message):
    with pytest.raises(InvalidMunicipalityCode, match=message):
        validate_code(code)


def test_prefecture():
    assert prefecture_of("141003") == "神奈川県"


@pytest.mark.django_db
def test_model_validation_rejects_a_bad_check_digit():
    municipality = Municipality(code="141004", name="x", name_kana="x")
    with pytest.raises(ValidationError) as info:
        municipality.full_clean()
    assert "code" in info.value.message_dict
