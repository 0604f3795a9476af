"""Pure metadata recovery: title, issuer, 文号, dates, level, region, doc type, version, status.

Inputs are strings: the head lines of a document (before its body), its tail lines (signature
block), some body text, and its path as a string (folder names and the file name carry the
level, the region and the version date in collections such as lawrefbook). No I/O here except
what the caller passes in; `parse_sidecar` parses YAML text.
"""
from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from ingest.records import LEVELS, STATUS_LABELS, DateEvent
from kb.chinese import DOC_NUMBER, cn_to_int, doc_number_brackets
from kb.places import CITY_PROVINCE, MUNICIPALITIES, NATIONAL, PROVINCE_AT_START, province_of

# ---------------------------------------------------------------------------------------------
# Dates and history lines.

_CN_DIGIT = "〇○零一二三四五六七八九十"
DATE = re.compile(rf"(\d{{4}}|[{_CN_DIGIT}]{{4}})\s*年\s*(\d{{1,2}}|[{_CN_DIGIT}]{{1,3}})\s*月"
                  rf"\s*(\d{{1,2}}|[{_CN_DIGIT}]{{1,3}})\s*日")
_FILE_DATE = re.compile(r"[(（](\d{4})-(\d{2})-(\d{2})[)）]")
_EFFECTIVE_IN_TEXT = re.compile(rf"自\s*{DATE.pattern}\s*起\s*(?:施行|生效|实施)")
_EFFECTIVE_ON_PUBLICATION = re.compile(r"自\s*(?:公布|发布|印发)之日起\s*(?:施行|生效|实施)")

# Event kinds by keyword. 修订/修正 win over the others: "国务院常务会议修订通过" is a revision and
# "《国务院关于废止和修改部分行政法规的决定》第二次修订" is one too.
_KIND_FIRST = (("修订", "revised"), ("修正", "amended"), ("修改", "amended"))
_KIND_RIGHTMOST = {"公布": "promulgated", "发布": "promulgated", "印发": "promulgated",
                   "施行": "effective", "实施": "effective", "生效": "effective",
                   "通过": "adopted", "批准": "approved", "废止": "repealed", "失效": "repealed"}
_KIND_WORD = re.compile("|".join(_KIND_RIGHTMOST))


def _date_value(text: str) -> int:
    return cn_to_int(text) if not text.isdigit() else int(text)


def _year(text: str) -> int:
    if text.isdigit():
        return int(text)
    # years are written digit by digit: 二〇二二
    return int("".join(str(_date_value(ch)) for ch in text))


def iso_date(match: re.Match[str]) -> str | None:
    """"2022年2月25日" / "二〇二二年二月二十五日" (a `DATE` match) → "2022-02-25", None if invalid."""
    try:
        y, m, d = _year(match.group(1)), _date_value(match.group(2)), _date_value(match.group(3))
    except ValueError:
        return None
    if not (1900 <= y <= 2100 and 1 <= m <= 12 and 1 <= d <= 31):
        return None
    return f"{y:04d}-{m:02d}-{d:02d}"


def event_kind(event: str) -> str:
    """The kind of a history event from its wording (see `DateEvent.kind`)."""
    for word, kind in _KIND_FIRST:
        if word in event:
            return kind
    words = _KIND_WORD.findall(event)
    return _KIND_RIGHTMOST[words[-1]] if words else "other"


def parse_history(lines: Iterable[str]) -> list[DateEvent]:
    """History events from head lines: each date starts an event that runs to the next date.

    A line without a date continues the previous event (a wrapped history line). Brackets and
    separators around events are dropped. An event without a verb ("最高人民法院审判委员会第N次
    会议、" before "…最高人民检察院…通过") takes the kind of the event that follows it.
    """
    events: list[list[str]] = []  # [date, text]
    for line in lines:
        text = line.strip()
        matches = list(DATE.finditer(text))
        if not matches:
            if events and text:
                events[-1][1] += text
            continue
        for k, m in enumerate(matches):
            date = iso_date(m)
            end = matches[k + 1].start() if k + 1 < len(matches) else len(text)
            if date is None:
                continue
            events.append([date, text[m.end():end]])
    result: list[DateEvent] = []
    pending_kind = ""
    for date, raw in reversed(events):
        event = raw.strip(" \t（）()、，,;；:：")
        kind = event_kind(event)
        if kind == "other" and pending_kind and raw.rstrip().endswith(("、", "，", "和")):
            kind = pending_kind
        pending_kind = kind
        result.append(DateEvent(date=date, event=event, kind=kind))
    result.reverse()
    return result


def is_history_line(line: str) -> bool:
    """A head line that is a date with an event ("2022年2月25日 中共中央、国务院发布") or a
    bracketed history ("（2005年1月5日国务院第76次常务会议通过…）")."""
    text = line.strip()
    m = DATE.search(text)
    if not m:
        return False
    if text.startswith(("（", "(")) and text.endswith(("）", ")")):
        return True
    return m.start() == 0 and len(text) < 160 and not text.endswith("。")


@dataclass(frozen=True)
class Dates:
    promulgated: str = ""
    effective: str = ""
    version: str = ""


def resolve_dates(history: Sequence[DateEvent], body: str, path: str) -> Dates:
    """Promulgation, effective and version dates.

    promulgated: the latest 公布/发布 event, else the latest adoption/amendment/revision, else
    an approval. effective: the latest 施行 event (or "公布施行"), else "自…起施行" in the body,
    else "自公布之日起施行" → the promulgation date. version: the date in the file name
    ("行政复议法(2023-09-01).md"), else the latest history date that is not an effective date.
    """
    def latest(kinds: tuple[str, ...]) -> str:
        dates = [e.date for e in history if e.kind in kinds]
        return max(dates) if dates else ""

    promulgated = (latest(("promulgated",)) or latest(("adopted", "amended", "revised"))
                   or latest(("approved",)))
    effective = latest(("effective",)) or max(
        (e.date for e in history if "施行" in e.event), default="")
    if not effective:
        m = _EFFECTIVE_IN_TEXT.search(body)
        if m:
            effective = iso_date(m) or ""
        elif _EFFECTIVE_ON_PUBLICATION.search(body):
            effective = promulgated
    fm = _FILE_DATE.search(PurePath(path).name) if path else None
    if fm:
        version = "-".join(fm.groups())
    else:
        version = max((e.date for e in history if e.kind != "effective"), default="") or promulgated
    return Dates(promulgated=promulgated, effective=effective, version=version)


# ---------------------------------------------------------------------------------------------
# 文号 (document numbers) and issuers.

_DOC_NUMBER_LEAD = re.compile(r"^(?:.*?(?:印发|根据|按照|依据|依照|见|发布|公布|以)|中华人民共和国)")


def find_doc_number(lines: Iterable[str]) -> str:
    """The first 文号 in the lines: "国发〔2014〕10号", "×信发〔2024〕7号", "国务院令第431号"; its
    year in 〔〕 however the text brackets it (﹝2014﹞, [2014], （2014） …).

    "中华人民共和国" before an order number is dropped ("中华人民共和国国务院令第431号" →
    "国务院令第431号"), as are verbs a lazy match may pick up before the number.
    """
    lines = [DATE.sub(" ", line) for line in lines]
    # a number may be broken over two lines: "青禾市人民政府令" / "第7号"
    for text in lines + [a.strip() + b.strip() for a, b in zip(lines, lines[1:])]:
        m = DOC_NUMBER.search(text)
        if m:
            number = doc_number_brackets("".join(m.group(0).split()))
            return _DOC_NUMBER_LEAD.sub("", number) or number
    return ""


_SESSION = re.compile(r"第[一二三四五六七八九十百零\d]+届")
_ORGAN_END = re.compile(
    r"(?:第[一二三四五六七八九十百零\d]+次|令\s*第|公告|审判委员会|检察委员会|常务会议|全体会议|"
    r"会议|审议|发布|公布|印发|批准|通过|修订|修正|施行)")
_ORG_SUFFIX = ("中央", "国务院", "委员会", "常委会", "政府", "办公厅", "办公室", "法院", "检察院",
               "部", "厅", "局", "署", "委", "会", "院", "办", "处", "中心", "军区", "总局", "集团")
_ORG_SEPARATORS = re.compile(r"[\s、，,]+")


def organ_of_event(event: str) -> str:
    """The body named in a history event: "山东省第十三届人民代表大会常务委员会第二十次会议通过"
    → "山东省人民代表大会常务委员会"; "中华人民共和国国务院令第431号公布" → "国务院"."""
    text = _SESSION.sub("", event.strip().removeprefix("经").removeprefix("由"))
    if text.startswith("《"):
        return ""
    m = _ORGAN_END.search(text)
    organ = text[:m.start()] if m else ""
    organ = organ.strip(" 、，,").removeprefix("中华人民共和国")
    return organ if organ.endswith(_ORG_SUFFIX) else ""


def is_issuer_line(line: str) -> bool:
    """A line made only of organisation names ("××市信访局　××市民政局", "国务院办公厅文件")."""
    text = line.strip().removesuffix("文件")
    if not text or len(text) > 60 or DATE.search(text) or text.endswith(("。", "：", ":")):
        return False
    parts = [p for p in _ORG_SEPARATORS.split(text) if p]
    return bool(parts) and all(p.endswith(_ORG_SUFFIX) and len(p) <= 25 for p in parts)


def issuer_of(history: Sequence[DateEvent], head: Sequence[str], tail: Sequence[str]) -> str:
    """The issuing body: the first adopting/promulgating body of the history, else an issuer
    line of the head (红头) or of the signature, names joined with "、"."""
    for kinds in (("adopted", "promulgated"), ("revised", "amended", "approved")):
        for event in history:
            if event.kind in kinds:
                organ = organ_of_event(event.event)
                if organ:
                    return organ
    for line in list(head) + list(tail):
        if is_issuer_line(line):
            names = [p for p in _ORG_SEPARATORS.split(line.strip().removesuffix("文件")) if p]
            return "、".join(names)
    return ""


# ---------------------------------------------------------------------------------------------
# Title, document type.

DOC_TYPES = ("实施细则", "实施办法", "实施意见", "修正案", "条例", "规定", "办法", "细则", "规则",
             "解释", "决定", "决议", "意见", "通知", "方案", "批复", "答复", "解答", "规划", "纲要",
             "章程", "准则", "标准", "公告", "通告", "命令", "指引", "指南", "规程", "守则", "制度",
             "安排", "纪要", "目录", "清单", "法")
_OPENING_BRACKETS = "（("
_BRACKETS = "（()）"


def strip_trailing_brackets(title: str) -> str:
    """`title` without its trailing bracketed notes: "刑法修正案（十一）" → "刑法修正案",
    "办法（试行）（2020年修正）" → "办法". Done in code, reading each character once: a
    "(…)+$" pattern searched over a title retries from every bracket (quadratic)."""
    end = len(title)
    while True:
        close = end
        while close and title[close - 1].isspace():
            close -= 1
        if not close or title[close - 1] not in "）)":
            return title[:end]
        opening = close - 2
        while opening >= 0 and title[opening] not in _BRACKETS:
            opening -= 1
        if opening < 0 or title[opening] not in _OPENING_BRACKETS:
            return title[:end]
        end = opening


def doc_type_of(title: str) -> str:
    """"中华人民共和国刑法修正案（十一）" → "修正案"; "…指导意见" → "意见"; "" if unknown.

    Compound types are reduced to their base ("实施细则" → "细则")."""
    core = strip_trailing_brackets(title.strip())
    for t in DOC_TYPES:
        if core.endswith(t):
            return t[2:] if t.startswith("实施") else t
    return ""


_NOT_TITLE_END = ("。", "：", ":", "；", "，")


def is_title_candidate(line: str) -> bool:
    """A line that could be a document title: short, not a sentence, date, 文号 or issuer."""
    text = line.strip()
    return bool(text) and len(text) <= 80 and not text.endswith(_NOT_TITLE_END) \
        and not is_history_line(text) and not DATE.fullmatch(text.strip("（）() ")) \
        and not DOC_NUMBER.fullmatch("".join(text.split())) and not is_issuer_line(text) \
        and not text.startswith(("（", "("))


def find_title(lines: Sequence[str], hints: Sequence[str] = (), headline: str = "") -> int | None:
    """Index of the document's own title among the head lines, or None.

    In order of preference: a line equal to a 《name》 quoted in the page headline, or to the
    headline itself; the first candidate line ending in a document type ("…条例",
    "…意见（试行）"); the first candidate that the source styled as a title (centred/bold:
    `hints`); without a headline to fall back on, the first candidate line.
    """
    keys = ["".join(ln.split()) for ln in lines]
    # built once: a list search per 《name》 of the headline was quadratic in a page that has many
    first_index: dict[str, int] = {}
    for i, key in enumerate(keys):
        first_index.setdefault(key, i)
    for name in QUOTED_NAME.findall(headline) + ["".join(headline.split())]:
        if name and name in first_index:
            return first_index[name]
    candidates = [i for i, ln in enumerate(lines) if is_title_candidate(ln)]
    for i in candidates:
        if doc_type_of(keys[i]):
            return i
    hint_keys = {"".join(h.split()) for h in hints}
    for i in candidates:
        if keys[i] in hint_keys:
            return i
    return candidates[0] if candidates and not headline else None


# ---------------------------------------------------------------------------------------------
# Level and region.

FOLDER_LEVELS = {"宪法": "宪法", "宪法相关法": "法律", "民法商法": "法律", "民法典": "法律",
                 "行政法": "法律", "经济法": "法律", "社会法": "法律", "刑法": "法律",
                 "诉讼与非诉讼程序法": "法律", "法律": "法律", "行政法规": "行政法规",
                 "司法解释": "司法解释", "部门规章": "部门规章", "地方性法规": "地方性法规",
                 "地方政府规章": "地方政府规章", "党内法规": "党内法规", "监察法规": "监察法规",
                 "规范性文件": "规范性文件"}

# A city at the start of an issuer or title, not a word that begins like one (市场, 市民, 区人民…).
_CITY = re.compile(r"^([\u4e00-\u9fff]{2,7}?(?:市|自治州|地区|盟))(?!场|民|容|政|区人民|辖区|级)")


def region_of(path: str, title: str, issuer: str) -> str:
    """"全国", a province ("浙江省") or a province and city ("浙江省宁波市").

    The province comes from a folder name, the issuer or the title; a city from the start of
    the issuer or title after the province ("宁波市人民代表大会常务委员会" → "宁波市"). A known
    city without its province gets it from `kb.places.PREFECTURES` ("成都市信访局" → "四川省成都市"); an
    unknown one stands alone.
    """
    province = ""
    for part in PurePath(path).parts[:-1] if path else ():
        province = province_of(part)
        if province:
            break
    for name in (issuer, title):
        if not province:
            province = province_of(name)
    if province in MUNICIPALITIES or province.endswith("行政区"):
        return province
    city = ""
    for name in (issuer, title):
        m = PROVINCE_AT_START.match(name)
        city = _city_of(name[m.end():] if m else name)
        if city:
            break
    if not province:
        return CITY_PROVINCE.get(city, "") + city if city else NATIONAL
    return province + city


def _city_of(name: str) -> str:
    m = _CITY.match(name)
    if not m or m.group(1).startswith(("中华人民共和国", "全国", "国家", "最高", "国务院", "中共")):
        return ""
    return m.group(1)


def level_of(path: str, title: str, issuer: str, doc_type: str, doc_number: str) -> str:
    """Level of legal force (one of `LEVELS`) from folder names, else issuer, title and type."""
    for part in PurePath(path).parts[:-1] if path else ():
        if part in FOLDER_LEVELS:
            return FOLDER_LEVELS[part]
    core = strip_trailing_brackets(title)
    if core.endswith(("宪法", "宪法修正案")):
        return "宪法"
    if "最高人民法院" in issuer or "最高人民检察院" in issuer or core.startswith(("最高人民法院", "最高人民检察院")):
        return "司法解释"
    if "国家监察委员会" in issuer:
        return "监察法规"
    if "全国人民代表大会" in issuer:
        return "法律"
    if "人民代表大会" in issuer:
        return "地方性法规"
    rules = ("条例", "规定", "规则", "准则", "办法", "细则")
    if ("中共中央" in issuer or "中央办公厅" in issuer) and doc_type in rules:
        return "党内法规"
    if re.fullmatch(r"国务院(、中央军事委员会)?", issuer) and doc_type in rules:
        return "行政法规"
    if "令" in doc_number and "人民政府" in (issuer + doc_number):
        return "地方政府规章"
    if "令" in doc_number:
        return "部门规章"
    if doc_type:
        return "规范性文件"
    return ""


# ---------------------------------------------------------------------------------------------
# Status.

_STATUS_DECLARED = re.compile(r"(?:已|现已)(?:被)?(废止|失效)|[【\[（(](废止|失效|已废止|已失效)[】\]）)]"
                              r"|(?:时效性|效力状态|效力)[:：]\s*(已废止|失效|已失效|尚未施行|现行有效|有效|已修改)")
_STATUS_WORDS = {"废止": "repealed", "失效": "repealed", "已废止": "repealed", "已失效": "repealed",
                 "尚未施行": "pending", "现行有效": "current", "有效": "current", "已修改": "superseded"}


def declared_status(lines: Iterable[str]) -> str:
    """A validity status the text declares about itself ("【已废止】", "时效性：失效"), else ""."""
    for line in lines:
        m = _STATUS_DECLARED.search(line)
        if m:
            return _STATUS_WORDS[next(g for g in m.groups() if g)]
    return ""


_SENTENCE = re.compile(r"[^。；;]*[。；;]?")
# A 《name》; an unclosed 《 does not reach past the next 《 (no rescan of the rest of the text).
QUOTED_NAME = re.compile(r"《([^《》]+)》")


def repealed_titles(lines: Iterable[str]) -> tuple[str, ...]:
    """Titles a text repeals in a closing clause: "本法自…起施行，《中华人民共和国居民身份证条例》同时废止。"

    Only sentences that say 同时废止 count: elsewhere 《》 names are cited, not repealed.
    """
    found: list[str] = []
    for line in lines:
        if "同时废止" not in line:
            continue
        for sentence in _SENTENCE.findall(line):
            if "同时废止" in sentence:
                found.extend(QUOTED_NAME.findall(sentence))
    # each title once, where it first appears (a list search per name was quadratic in a long clause)
    return tuple(dict.fromkeys(found))


# ---------------------------------------------------------------------------------------------
# Sidecar metadata (X.pdf.meta.yaml or YAML front matter).

SIDECAR_KEYS = ("title", "subtitle", "issuer", "doc_number", "doc_type", "level", "region",
                "status", "version_date", "promulgated", "effective")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YAML_NULLS = ("", "~", "null", "Null", "NULL")


class SidecarError(ValueError):
    """A sidecar that cannot be used; the message says why (the caller names the file)."""


def parse_sidecar(text: str, *, strict: bool = True) -> dict[str, str]:
    """Validated metadata overrides from YAML text.

    `strict` (separate sidecar files) rejects unknown keys; front matter may carry other keys,
    which are ignored. Every value is read as the text written (`doc_number: 012` stays "012",
    `issuer: yes` stays "yes"); an empty or null value is as if not given. Dates must be real
    dates written YYYY-MM-DD, `level` one of `LEVELS`, `status` a code or label of
    `STATUS_LABELS` (labels are mapped to codes).

    Raises:
        SidecarError: invalid YAML, not a mapping, an unknown key (strict), a list or mapping
            where text belongs, or a bad value.
    """
    import yaml

    try:
        # every scalar a string: the YAML 1.1 types turned `yes` into True, 012 into 10, and a
        # date such as 2022-13-45 into a ValueError that escaped as "cannot parse"
        data = yaml.load(text, Loader=yaml.BaseLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SidecarError(f"invalid YAML{where}") from None
    if data is None or data == "":
        return {}
    if not isinstance(data, dict):
        raise SidecarError("YAML is not a mapping of keys to values")
    unknown = [str(k) for k in data if k not in SIDECAR_KEYS]
    if strict and unknown:
        raise SidecarError(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(SIDECAR_KEYS)}")
    result: dict[str, str] = {}
    for key in SIDECAR_KEYS:
        value = data.get(key)
        if isinstance(value, (list, dict)):     # (never str() of it: aliases may nest it a billion deep)
            shape = "list" if isinstance(value, list) else "mapping"
            raise SidecarError(f"{key} must be one line of text, not a {shape}")
        value = (value or "").strip()
        if value in _YAML_NULLS:
            continue
        if key in ("version_date", "promulgated", "effective"):
            if not _ISO_DATE.match(value):
                raise SidecarError(f"{key} must be a date YYYY-MM-DD, got {value!r}")
            try:
                datetime.date.fromisoformat(value)
            except ValueError as err:
                raise SidecarError(f"{key} {value!r} is no date: {err}") from None
        if key == "level" and value not in LEVELS:
            raise SidecarError(f"level must be one of {', '.join(LEVELS)}, got {value!r}")
        if key == "status":
            codes = {label: code for code, label in STATUS_LABELS.items()}
            if value in codes:
                value = codes[value]
            elif value not in STATUS_LABELS:
                raise SidecarError(f"status must be one of {', '.join(STATUS_LABELS)}, got {value!r}")
        result[key] = value
    return result


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)(?:^---[ \t]*$|^\.\.\.[ \t]*$)\r?\n?", re.S | re.M)


def split_front_matter(text: str) -> tuple[str | None, str]:
    """(front matter YAML or None, the rest of the text)."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return None, text
    return m.group(1), text[m.end():]
