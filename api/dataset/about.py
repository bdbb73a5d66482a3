"""What the dataset is called, what it covers, where it lives and under what licence, as every page, descriptor and
catalogue states it."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]   # the project: data/, seeds/, openapi.yaml, node_modules/
DEFAULT_DB = ROOT / "var" / "socialwork.db"

TITLE_ZH = "中国社会工作举措开放数据(2025)"
TITLE_EN = "China social-work initiatives, open data (2025)"
LICENCE = {"name": "CC BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/",
           # The basis, honestly: what is served and on what terms (no claim of "short excerpts": the quotes cover about
           # 72% of the article's characters, and the whole text is served).
           "note": "Our curation is CC BY 4.0. The article is not: its copyright stays with Xinhua News Agency, and we hold no licence from it. We serve its whole text (the source pages, /sources/<id>.txt, the database) and quotes that cover about 72% of its characters, so that every record can be checked against it; reuse of the article is on the publisher's terms, not ours."}
CURATION_LICENCE = {"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/",
                    "title": "Creative Commons Attribution 4.0 (our curation: records, translations, summaries, "
                             "vocabularies, gazetteer compilation)"}
DESCRIPTION_EN = ("Every social-work initiative named in Xinhua's review of China's social work in 2025 (published "
                  "2026-01-25): bilingual records with GB/T 2260 regions, year and how it is known, kind, typed figures "
                  "with units, and verbatim quotes with their offsets into the article. Read-only REST API and bulk downloads.")
DESCRIPTION_ZH = ("新华社 2026 年 1 月 25 日报道中提到的每一项社会工作举措，逐条整理为中英双语记录：行政区划（GB/T 2260）、"
                  "年份及其依据、举措类型、带单位的数据指标，以及附有原文位置的引语。")
TEMPORAL = ("2025-01-01", "2025-12-31")  # the year the article reports on
SPATIAL = {"name_zh": "中国", "name_en": "China", "iso": "CN",
           "eu_country": "http://publications.europa.eu/resource/authority/country/CHN"}
