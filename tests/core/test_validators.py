import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from wuzhi.core import crypto
from wuzhi.core.pinyin import name_keys
from wuzhi.core.validators import (
    id_check_digit,
    mask_id,
    mask_phone,
    normalize_phone,
    parse_id_number,
)

VALID = "11010519491231002X"  # the GB 11643 standard's own example


def test_standard_example_is_valid():
    parsed = parse_id_number(VALID)
    assert parsed.birth_date == dt.date(1949, 12, 31)
    assert parsed.sex == "F"
    assert parsed.masked == "1101**********002X"


@pytest.mark.parametrize("raw", ["11010519491231002x", " 11010519491231002X　", "１１０１０５１９４９１２３１００２Ｘ"])
def test_variants_are_normalised(raw):
    assert parse_id_number(raw).number == VALID


def test_fifteen_digit_legacy_number_is_converted():
    parsed = parse_id_number("110105491231002")
    assert parsed.number == "11010519491231002X"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("110105194912310021", "校验位"),
        ("110105194902300021", "出生日期"),
        ("990105194912310021", "行政区划"),
        ("1101051949", "18位"),
        ("", "不能为空"),
    ],
)
def test_bad_numbers_have_chinese_reasons(raw, fragment):
    with pytest.raises(ValidationError) as exc:
        parse_id_number(raw)
    assert fragment in exc.value.messages[0]


def test_future_birth_date_is_refused():
    first17 = "530626" + "20991231" + "001"
    with pytest.raises(ValidationError, match="不合理"):
        parse_id_number(first17 + id_check_digit(first17), today=dt.date(2026, 11, 26))


@given(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)),
    st.integers(min_value=0, max_value=999),
    st.sampled_from(["530626", "530625", "110105", "440305"]),
)
def test_any_generated_number_round_trips(birth, order, region):
    first17 = f"{region}{birth:%Y%m%d}{order:03d}"
    parsed = parse_id_number(first17 + id_check_digit(first17))
    assert parsed.birth_date == birth
    assert parsed.sex == ("M" if order % 2 else "F")


@given(st.text(alphabet="0123456789X", min_size=18, max_size=18))
def test_a_single_changed_digit_never_passes_silently(number):
    # Either the number is rejected, or it is exactly the number given.
    try:
        parsed = parse_id_number(number)
    except ValidationError:
        return
    assert parsed.number == number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("13987654321", "13987654321"), ("+86 139 8765 4321", "13987654321"), ("0870-1234567", "0870-1234567"),
     ("08701234567", "0870-1234567"), ("010-12345678", "010-12345678"), ("１３９８７６５４３２１", "13987654321")],
)
def test_phone_normalisation(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "23987654321", "1398765432", "abc"])
def test_bad_phones(raw):
    with pytest.raises(ValidationError, match="电话号码"):
        normalize_phone(raw)


def test_masks():
    assert mask_id("530626198001011234") == "5306**********1234"
    assert mask_phone("13987654321") == "139****4321"
    assert mask_phone("0870-1234567") == "0870-***4567"


def test_pinyin_keys():
    assert name_keys("张黎") == ("zhangli", "zl")
    assert name_keys("单雄信")[0].startswith("shan")
    assert name_keys("吕布") == ("lvbu", "lb")


def test_encryption_round_trip_and_blind_index(settings):
    token = crypto.encrypt("530626198001011234")
    assert "530626" not in token
    assert crypto.decrypt(token) == "530626198001011234"
    assert crypto.encrypt("x") != crypto.encrypt("x")  # random nonce
    assert crypto.blind_index("1", "id") == crypto.blind_index("1", "id") != crypto.blind_index("1", "phone")


def test_key_rotation_keeps_old_ciphertexts_readable(settings):
    old = crypto.encrypt("13987654321")
    settings.FIELD_KEYS = "k2:" + "A" * 43 + "," + settings.FIELD_KEYS
    new = crypto.encrypt("13987654321")
    assert new.startswith("k2:")
    assert crypto.decrypt(old) == crypto.decrypt(new) == "13987654321"
