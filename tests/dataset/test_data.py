"""Facts about the curated data as a reader of the article checks them: the seed, named figures, codes, the gazetteer, the data package.

The rules every record and file must keep are the build's (api/build/rules.py, checks.py), broken one by one in tests/build/test_build.py.
"""
from __future__ import annotations

import csv
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from api.build import checked_records, parse_figure

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
SEED_SHA256 = "8adc04e4192f64d8e792562fa75f86f4ac5f63767a997bb0b99d55a1810fe980"
RECORDS = sorted((DATA / "initiatives").glob("*.yaml"))


def _record(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _regions():
    with (DATA / "regions.csv").open(encoding="utf-8", newline="") as fh:
        return {r["code"]: r for r in csv.DictReader(fh)}


def test_seed_is_the_article_byte_for_byte():
    assert hashlib.sha256((ROOT / "seeds" / "xinhua-2026-01-25-social-work.txt").read_bytes()).hexdigest() == SEED_SHA256
    shared = ROOT.parent / "shared" / "seeds" / "xinhua-2026-01-25-social-work.txt"
    if shared.exists():
        assert shared.read_bytes() == (ROOT / "seeds" / shared.name).read_bytes()


def test_source_metadata_is_recorded():
    (source,) = yaml.safe_load((DATA / "sources.yaml").read_text(encoding="utf-8"))
    assert source["publisher_zh"] == "新华社" and source["publisher_en"] == "Xinhua News Agency"
    assert source["dateline_en"] == "Beijing" and source["published"] == "2026-01-25" and source["language"] == "zh"
    assert source["sha256"] == SEED_SHA256


def test_the_whole_dataset_validates():
    # Every rule about a file in data/ is the build's (api/build/; tests/build/test_build.py breaks each
    # one): checking without a DataError is the proof that today's records keep them all.
    assert 40 <= len(checked_records(ROOT)) <= 60


@pytest.mark.parametrize("figure, value, qualifier", [
    ("2580.2万件", Decimal("25802000"), "exact"),
    ("1.2万余个", Decimal("12000"), "more than"),
    ("18.4%", Decimal("18.4"), "exact"),
    ("223.6万人", Decimal("2236000"), "exact"),
    ("672个", Decimal("672"), "exact"),
])
def test_figures_parse_as_the_article_means_them(figure, value, qualifier):
    assert parse_figure(figure) == (value, qualifier)


def test_named_figures_are_in_the_data():
    metrics = {(p.stem, m["figure_text"]): m for p in RECORDS for m in _record(p)["metrics"]}
    assert metrics[("beijing-12345-hotline", "2580.2万件")]["value"] == 25802000
    assert metrics[("liaoning-care-stations-drivers-homes", "1.2万余个")]["value"] == 12000
    assert metrics[("liaoning-care-stations-drivers-homes", "1.2万余个")]["qualifier"] == "more than"
    growth = metrics[("social-worker-qualification-exam-2025", "18.4%")]
    assert (growth["value"], growth["unit"]) == (18.4, "percent")


def test_a_place_finer_than_the_article_names_a_division_for_is_coded_at_that_division():
    # 成都高新区 is no GB/T 2260 division and the article names no county for 中和街道: the code stops at 成都市,
    # the place says the rest (README: "How fine a region code goes").
    rec = _record(DATA / "initiatives" / "chengdu-zhonghe-fengchao-worker-station.yaml")
    assert rec["regions"] == ["510100"]
    assert "成都高新区" in rec["place_zh"] and "中和街道" in rec["place_zh"]
    assert _record(DATA / "initiatives" / "lianyungang-hailian-community-new-employment-services.yaml")["regions"] == ["320700"]
    assert _record(DATA / "initiatives" / "chengdu-jinjiang-guoce-secretary-studio.yaml")["regions"] == ["510104"]


@pytest.mark.parametrize("code, name_zh, name_en, level, parent", [
    ("320700", "连云港市", "Lianyungang", "prefecture", "320000"),
    ("510104", "锦江区", "Jinjiang District", "county", None),
    ("540000", "西藏自治区", "Xizang", "province", ""),
    ("150000", "内蒙古自治区", "Inner Mongolia", "province", ""),
    ("610000", "陕西省", "Shaanxi", "province", ""),
    ("140000", "山西省", "Shanxi", "province", ""),
    ("500157", None, None, "county", "500000"),
    ("510116", "双流区", "Shuangliu District", "county", None),
    ("441900", "东莞市", "Dongguan", "prefecture", "440000"),
    ("419001", "济源市", None, "county", "410000"),
    ("532300", "楚雄彝族自治州", "Chuxiong Yi Autonomous Prefecture", "prefecture", "530000"),
    ("610100", "西安市", "Xi'an", "prefecture", "610000"),
    ("810000", None, "Hong Kong SAR", "province", ""),
])
def test_gazetteer_facts(code, name_zh, name_en, level, parent):
    row = _regions()[code]
    assert row["level"] == level
    if name_zh:
        assert row["name_zh"] == name_zh
    if name_en:
        assert row["name_en"] == name_en
    if parent is not None:
        assert row["parent_code"] == parent


def test_gazetteer_is_complete_and_consistent():
    regions = _regions()
    assert 3000 <= len(regions) <= 3600
    assert sum(r["level"] == "province" for r in regions.values()) >= 31
    assert not any(r["parent_code"].startswith("4419") for r in regions.values()), "Dongguan has no counties"


def test_retired_codes_resolve_to_their_successor():
    with (DATA / "region_aliases.csv").open(encoding="utf-8", newline="") as fh:
        aliases = {r["code"]: r["successor_code"] for r in csv.DictReader(fh)}
    regions = _regions()
    assert aliases["500105"] == "500157" and aliases["500112"] == "500157"
    assert "500105" not in regions and "500157" in regions


def test_datapackage_describes_every_data_file():
    package = json.loads((DATA / "datapackage.json").read_text(encoding="utf-8"))
    assert package["version"] and package["licenses"][0]["name"] == "CC-BY-4.0"
    described = set()
    for res in package["resources"]:
        paths = res["path"] if isinstance(res["path"], list) else [res["path"]]
        for p in paths:
            assert (DATA / p).is_file(), p
            described.add(p)
    on_disk = {str(p.relative_to(DATA)) for p in DATA.rglob("*") if p.is_file()} - {"datapackage.json", "regions.README.md"}
    assert on_disk <= described, on_disk - described
