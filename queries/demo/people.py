"""Fake but well-formed Chinese personal data: names, mobile numbers, ID numbers, card numbers."""

from __future__ import annotations

import numpy as np
import polars as pl

# Most common surnames with rough population weights (percent).
SURNAMES = (
    ("王", 7.1), ("李", 7.0), ("张", 6.8), ("刘", 5.4), ("陈", 4.5), ("杨", 3.1), ("黄", 2.4),
    ("赵", 2.3), ("吴", 2.1), ("周", 2.0), ("徐", 1.5), ("孙", 1.5), ("马", 1.4), ("朱", 1.3),
    ("胡", 1.3), ("郭", 1.1), ("何", 1.1), ("高", 1.0), ("林", 1.0), ("罗", 0.9), ("郑", 0.9),
    ("梁", 0.8), ("谢", 0.7), ("宋", 0.6), ("唐", 0.6), ("许", 0.6), ("韩", 0.5), ("冯", 0.5),
    ("邓", 0.5), ("曹", 0.5), ("彭", 0.5), ("曾", 0.5), ("肖", 0.4), ("田", 0.4), ("董", 0.4),
    ("欧阳", 0.05), ("司马", 0.02),
)
GIVEN_CHARS = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志文斌宇浩然欣怡子涵梓轩"
    "晨雨嘉琪佳慧婷倩雪琳颖晓东海波峰亮磊俊豪博思远鑫淑珍凤秀梅春燕云飞宏伟丹阳"
)

# Province: (name in Chinese, name in English, two-digit ID prefix, weight ~ card holders).
PROVINCES = (
    ("广东", "Guangdong", "44", 12.0), ("江苏", "Jiangsu", "32", 8.5), ("浙江", "Zhejiang", "33", 8.0),
    ("山东", "Shandong", "37", 6.5), ("上海", "Shanghai", "31", 6.0), ("北京", "Beijing", "11", 6.0),
    ("河南", "Henan", "41", 5.0), ("四川", "Sichuan", "51", 5.0), ("湖北", "Hubei", "42", 4.0),
    ("福建", "Fujian", "35", 4.0), ("湖南", "Hunan", "43", 3.5), ("河北", "Hebei", "13", 3.5),
    ("安徽", "Anhui", "34", 3.2), ("辽宁", "Liaoning", "21", 2.8), ("陕西", "Shaanxi", "61", 2.5),
    ("重庆", "Chongqing", "50", 2.4), ("天津", "Tianjin", "12", 2.0), ("江西", "Jiangxi", "36", 2.0),
    ("广西", "Guangxi", "45", 2.0), ("云南", "Yunnan", "53", 1.8), ("山西", "Shanxi", "14", 1.5),
    ("黑龙江", "Heilongjiang", "23", 1.4), ("吉林", "Jilin", "22", 1.2), ("贵州", "Guizhou", "52", 1.2),
    ("内蒙古", "Inner Mongolia", "15", 1.0), ("新疆", "Xinjiang", "65", 0.9), ("甘肃", "Gansu", "62", 0.8),
    ("海南", "Hainan", "46", 0.6), ("宁夏", "Ningxia", "64", 0.3), ("青海", "Qinghai", "63", 0.2),
    ("西藏", "Tibet", "54", 0.1),
)
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "155", "156", "157", "158", "159", "166", "173", "177", "180", "181", "182", "185",
    "186", "187", "188", "189", "191", "198", "199",
)
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.array(list("10X98765432"))


def _pick(rng: np.random.Generator, items: tuple, weights: tuple | None, n: int) -> np.ndarray:
    p = None if weights is None else np.asarray(weights, dtype=float) / sum(weights)
    return rng.choice(len(items), size=n, p=p)


def chinese_names(rng: np.random.Generator, n: int) -> list[str]:
    """n full names: a weighted surname and one or two given-name characters."""
    sur = np.array([s for s, _ in SURNAMES])[_pick(rng, SURNAMES, tuple(w for _, w in SURNAMES), n)]
    chars = np.array(GIVEN_CHARS)
    first = chars[rng.integers(0, len(chars), n)]
    second = chars[rng.integers(0, len(chars), n)]
    two = rng.random(n) < 0.7
    return [s + a + (b if t else "") for s, a, b, t in zip(sur, first, second, two, strict=True)]


def mobile_numbers(rng: np.random.Generator, n: int) -> pl.Series:
    """n eleven-digit mainland mobile numbers with real carrier prefixes."""
    prefix = pl.Series(np.array(MOBILE_PREFIXES)[rng.integers(0, len(MOBILE_PREFIXES), n)])
    rest = pl.Series(rng.integers(0, 100_000_000, n)).cast(pl.String).str.zfill(8)
    return prefix + rest


def id_numbers(rng: np.random.Generator, province_codes: np.ndarray, birth_days: np.ndarray) -> pl.Series:
    """18-digit resident ID numbers with GB 11643 check digits.

    province_codes: two-digit strings; birth_days: numpy datetime64[D].
    """
    n = len(province_codes)
    area = (
        pl.Series(province_codes).cast(pl.String)
        + pl.Series(rng.integers(1, 20, n)).cast(pl.String).str.zfill(2)
        + pl.Series(rng.integers(1, 30, n)).cast(pl.String).str.zfill(2)
    )
    birth = pl.Series(birth_days).dt.strftime("%Y%m%d")
    seq = pl.Series(rng.integers(0, 1000, n)).cast(pl.String).str.zfill(3)
    body = area + birth + seq
    digits = np.frombuffer("".join(body.to_list()).encode(), dtype=np.uint8).reshape(n, 17) - 48
    check = _ID_CHECK[(digits.astype(np.int64) @ _ID_WEIGHTS) % 11]
    return body + pl.Series(check)


def card_numbers(rng: np.random.Generator, n: int) -> pl.Series:
    """n distinct 16-digit UnionPay-style card numbers (BIN 62…) with a Luhn check digit."""
    bins = np.array(["622848", "622700", "622588", "625965", "628288"])
    # An affine map of 0..n-1 modulo 10**9 (multiplier coprime to 10) gives distinct, scattered serials.
    serial = (np.arange(n, dtype=np.int64) * 387_420_489 + int(rng.integers(0, 10**9))) % 1_000_000_000
    body = pl.Series(bins[rng.integers(0, len(bins), n)]) + pl.Series(serial).cast(pl.String).str.zfill(9)
    digits = np.frombuffer("".join(body.to_list()).encode(), dtype=np.uint8).reshape(n, 15).astype(np.int64) - 48
    # Luhn: double every second digit from the right of the full number, i.e. positions 0,2,.. of body.
    doubled = digits.copy()
    doubled[:, ::2] *= 2
    doubled[doubled > 9] -= 9
    check = (10 - doubled.sum(axis=1) % 10) % 10
    return body + pl.Series(check.astype(str))


def luhn_ok(number: str) -> bool:
    """True when a card number passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def id_number_ok(number: str) -> bool:
    """True when an 18-digit ID number has a valid GB 11643 check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    s = sum(int(c) * int(w) for c, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[s % 11] == number[17]
