"""How a place name is normalised for lookup: the keys the build writes and the key a request looks up."""
from __future__ import annotations

import re
import unicodedata

_ZH_SUFFIXES = sorted(
    ["省", "市", "自治区", "壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "地区", "盟", "自治州",
     "区", "县", "旗", "自治县", "自治旗", "林区", "特区", "新区"],
    key=len, reverse=True)
_EN_SUFFIXES = re.compile(r"\s+(district|county|city|prefecture|league|banner|sar|autonomous (?:prefecture|county|banner|region)|"
                          r"special administrative region|forestry district|new area)$")


def name_key(text: str) -> str:
    """Normalise a place name for lookup: NFKC, lowercase, no diacritics, letters and CJK only ('Xi'an' -> 'xian')."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in text if ch.isalnum() and not unicodedata.combining(ch))


def zh_short(name: str) -> str | None:
    # Ethnic names go too: 楚雄彝族自治州 -> 楚雄, 广西壮族自治区 -> 广西.
    for suffix in _ZH_SUFFIXES:
        if name.endswith(suffix):
            stem = re.sub(r"(?:[\u4e00-\u9fff]{1,6}?族)+$", "", name[: -len(suffix)]) if "自治" in suffix else name[: -len(suffix)]
            return stem if len(stem) >= 2 and stem != name else None
    return None


def lookup_keys(region: dict) -> dict[str, bool]:
    """Every string a user may type for this region, normalised -> whether it is the full name."""
    keys = {name_key(region["name_en"].casefold()): True, name_key(region["name_zh"]): True}
    short = zh_short(region["name_zh"])
    for alt in (short, _EN_SUFFIXES.sub("", region["name_en"].casefold())):
        if alt and name_key(alt) not in keys:
            keys[name_key(alt)] = False
    keys.pop("", None)
    return keys
