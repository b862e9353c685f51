"""全国地方公共団体コード (JIS X 0402): 2-digit prefecture + 3-digit municipality + check digit.

Check digit (see DOMAIN.md §7): s = 6a+5b+4c+3d+2e; check = (11 - s mod 11) mod 10.
"""

import re

PREFECTURES: dict[str, str] = {
    "01": "北海道", "02": "青森県", "03": "岩手県", "04": "宮城県", "05": "秋田県",
    "06": "山形県", "07": "福島県", "08": "茨城県", "09": "栃木県", "10": "群馬県",
    "11": "埼玉県", "12": "千葉県", "13": "東京都", "14": "神奈川県", "15": "新潟県",
    "16": "富山県", "17": "石川県", "18": "福井県", "19": "山梨県", "20": "長野県",
    "21": "岐阜県", "22": "静岡県", "23": "愛知県", "24": "三重県", "25": "滋賀県",
    "26": "京都府", "27": "大阪府", "28": "兵庫県", "29": "奈良県", "30": "和歌山県",
    "31": "鳥取県", "32": "島根県", "33": "岡山県", "34": "広島県", "35": "山口県",
    "36": "徳島県", "37": "香川県", "38": "愛媛県", "39": "高知県", "40": "福岡県",
    "41": "佐賀県", "42": "長崎県", "43": "熊本県", "44": "大分県", "45": "宮崎県",
    "46": "鹿児島県", "47": "沖縄県",
}

_SIX_DIGITS = re.compile(r"^[0-9]{6}$")


class InvalidMunicipalityCode(ValueError):
    pass


def check_digit(five_digits: str) -> int:
    if not re.fullmatch(r"[0-9]{5}", five_digits):
        raise InvalidMunicipalityCode(f"{five_digits!r} is not five digits")
    s = sum(w * int(d) for w, d in zip((6, 5, 4, 3, 2), five_digits))
    return (11 - s % 11) % 10


def validate_code(code: str) -> str:
    """Returns the code, or raises InvalidMunicipalityCode saying what is wrong."""
    if not isinstance(code, str) or not _SIX_DIGITS.match(code):
        raise InvalidMunicipalityCode("全国地方公共団体コードは6桁の数字です")
    if code[:2] not in PREFECTURES:
        raise InvalidMunicipalityCode(f"都道府県コード {code[:2]} は存在しません")
    if code[2:5] == "000":
        raise InvalidMunicipalityCode("都道府県そのもののコードは市区町村として登録できません")
    if int(code[5]) != check_digit(code[:5]):
        raise InvalidMunicipalityCode(f"検査数字が正しくありません（{code[:5]}{check_digit(code[:5])} が正しい形です）")
    return code


def prefecture_of(code: str) -> str:
    return PREFECTURES[code[:2]]
