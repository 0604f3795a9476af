"""Time limits (期限) in the articles of a regulation: pure functions over `Article` records.

`extract_deadlines(articles)` finds every time limit of every article — "15日内", "5个工作日内",
"六十日内", "半年内" (6个月), "期限为三个月", "不超过30日", "延长……不得超过30日", "自收到书面答复之日起30日内",
"提前三十日", "七日前", and "应当立即/及时" (kept with no fixed period) — in Arabic, full-width or
Chinese numerals, with who must act (the sentence's subject, else the one named right after the
limit, else the actor of the article a subject-less sentence is about, else the one carried over
from the sentence before), the trigger, the action, whether it is an extension, and the citation
down to 款 and 项.

Not time limits, and never listed: dates (2022年5月1日), 施行/生效 clauses, ages (年满十八周岁),
amounts and counts (五千元, 三人以上), periodic duties and quotas (每年, 每月不超过三个工作日), how
long a thing lasts (有效期, 任期, 保存期限不得少于二年), a condition restating a limit
("二十日内不能作出决定的"), bans (离任后二年内不得担任), and periods of a penalty or of
criminal law (三年以下有期徒刑, 拘留合并执行最长不超过二十日, 追诉时效, 缓刑考验期): a sentence
about a penalty is skipped. Procedure around a penalty stays ("拘留后二十四小时以内通知家属").
"届满" and "之日起" are read as part of a trigger ("期限届满之日起十五日内"), not as limits alone.

Every pattern here sees user text: quantifiers are possessive or bounded, so a hostile line of
20,000 characters takes milliseconds. A limit's words (its clause, actor, trigger and action) are
read within `READ_WINDOW` characters of it, so a sentence of thousands of limits costs each of
them the same, not a re-reading of the whole sentence.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ingest.records import Article
from kb.chinese import ARTICLE_REF, CN_NUMERAL_CHARS, ascii_digits, cn_to_int

UNITS = ("日", "工作日", "个月", "年", "小时")
UNIT_OF = {"日": "日", "天": "日", "自然日": "日", "个自然日": "日", "工作日": "工作日", "个工作日": "工作日",
           "个月": "个月", "月": "个月", "年": "年", "小时": "小时", "个小时": "小时"}

# Bounded runs that start where a run of digits starts: every pattern stays linear on long runs.
_NUM = rf"(?:(?<!\d)\d{{1,6}}+|(?<![{CN_NUMERAL_CHARS}])[{CN_NUMERAL_CHARS}]{{1,9}}+)"
_SPACE = r"\s{0,3}+"
_UNIT = r"(?:个工作日|工作日|个自然日|自然日|个小时|小时|个月|日|天|月|年)"
# A number of a period, or half of one (半年, 半个月: `period_amount`).
_AMOUNT = rf"(?:{_NUM}|(?<![{CN_NUMERAL_CHARS}])半)"
# A period as written ("30日", "五个工作日", "半年"): what a quiz blanks out and reads back.
AMOUNT_UNIT = re.compile(rf"(?P<num>{_AMOUNT}){_SPACE}(?P<unit>{_UNIT})")
# Half a year is 6 months and half a month 15 days, as courts count them; half a day or an hour
# is no period a procedure sets.
_HALVES = {"年": (6, "个月"), "个月": (15, "日"), "月": (15, "日")}
# A limit: words before it that make a bare period one ("不得超过", "延长", "期限为", "之日起"),
# the number and unit, and words after it ("内", "届满", "前"); `_is_limit` decides which suffice.
_PERIOD = re.compile(
    rf"(?P<pre>(?:最长|最多|一般|至少)?+(?:不得超过|不超过|不应超过|延长|期限为|期限是|期间为|时限为|为期|提前|届满前)|起)?+"
    rf"{_SPACE}(?P<num>{_AMOUNT}){_SPACE}(?P<unit>{_UNIT})"
    r"(?P<post>以内|之内|内|届满|前(?![款条项述列])|为限)?+")
_IMMEDIATE = re.compile(r"(?:应当|必须|应|须|并|要)(?:依法)?+(?P<word>立即|及时)")
# Dates and years are masked before limits are looked for: "2022年5月1日" holds "1日" and "5月".
_DATE = re.compile(
    rf"(?:(?<!\d)\d{{4}}+|(?<![〇零○一二三四五六七八九])[〇零○一二三四五六七八九]{{4}}+){_SPACE}年"
    rf"(?:{_SPACE}{_NUM}{_SPACE}月(?:{_SPACE}{_NUM}{_SPACE}日)?+)?+|{_NUM}{_SPACE}月{_SPACE}{_NUM}{_SPACE}日|年度")
_SENTENCE_END = re.compile(r"[。；;！？!?]")
_CLAUSE_END = re.compile(r"[，,：:]")
_CLAUSE_OR_SENTENCE_END = re.compile(r"[，,：:。；;！？!?]")
_ITEM = re.compile(rf"^\s*+[（(]([{CN_NUMERAL_CHARS}]++)[）)]")
# A sentence about a penalty or criminal-law period, or the clause saying when the text takes effect.
_NOT_PROCEDURE = re.compile(
    r"徒刑|拘役|罚金|刑罚|缓刑|假释|刑期|累犯|追诉|合并执行|处[^，。；]{0,12}拘留|[起后](?:施行|实施|生效|执行)|施行前|周岁")

# Who acts: a noun phrase ending in one of these, right before what it does.
_ACTOR_END = re.compile(
    r"(?:党委|政府|人民法院|法院|检察院|机关|单位|部门|机构|组织|委员会|办公室|小组|中心|场所|企业|公司|"
    r"当事人|申请人|被申请人|第三人|信访人|代理人|监护人|律师|警察|公民|法人|个人|人员|家属|员|人|(?<!或)者|方|局|厅|事务所|派出所|看守所|研究所|站|会)")
_AFTER_ACTOR = ("应当", "应在", "必须", "须", "可以", "有权", "不得", "对", "在", "因", "认为", "就", "向", "自",
                "经", "于", "通过", "能够", "收到", "接到", "办理", "提出", "申请", "发现", "作出", "依法", "依照",
                "按照", "根据", "不服", "未", "逾期", "及时", "立即", "决定", "受理", "会同", "负责", "共同",
                "应", "要", "同意", "接受", "拒绝", "请求", "做出", "审查", "将", "已")
# Heads that are not an actor: a modal, a preposition, a condition ("当事人" is an actor, "当地" not).
_NOT_SUBJECT_START = ("不", "未", "可以", "应当", "应经", "应在", "应按", "应向", "应于", "应予", "应由", "必须", "不得", "对", "在", "自", "经", "因", "为", "按照", "依照", "依据",
                      "根据", "除", "凡", "如", "当年", "当地", "当前", "当日", "若", "于", "从", "以", "将", "把",
                      "就", "向", "与", "给", "情况", "需要", "确需", "必要", "属于", "涉及", "发现")
_LEADING_WORDS = ("但是", "但", "并且", "并", "且", "同时", "则", "其中", "另外", "由")
_MODALS_AND_PREPOSITIONS = ("应当", "必须", "可以", "有权", "不得", "在", "对", "自", "向", "于", "经", "就", "因",
                            "通过", "依法", "依照", "按照", "根据")
_RELATIVE = re.compile(r"[^，,的]{1,8}+的(?=.)")
# What the actor of an opening condition does ("房地产开发企业变更企业名称的，……").
_LOOSE_VERBS = ("变更", "转让", "出租", "发生", "使用", "取得", "设立", "进行", "从事", "违反", "需要", "拟",
                "要求", "开展", "举办", "建设", "生产", "销售", "经营", "委托", "签订", "完成", "终止", "解散",
                "注销", "迁移", "改变", "停止", "新建", "扩建", "改建", "采购", "招标", "投标", "参加", "申领",
                "调解", "处理", "执行", "实施", "检查", "调查", "审理", "办理", "受理")
_BANS = ("不得", "不准", "禁止")
_NOT_A_TIME_TO_ACT = ("有效期", "处分期", "试用期", "任期", "经营期限", "保密期限", "存续期", "服务期")
_NOT_DONE = ("未", "没有", "不能", "无法")
_ADDRESSED = re.compile(r"(请求|申请|提请)[^，。]{2,30}?(?:机关|单位|法院|部门|机构|委员会)([^、，的\s]{2,8}+)$")
_MODAL_HEAD = re.compile(r"^(?:应当|必须|可以|应|须)")
_OWN_TEXT = re.compile(r"对本(?:条例|法|规定|办法|细则|规则)")
_ACTION_MAX = 30
# What a period is the length of, when no action follows it: 调解期限为三十日, 询问查证的时间不得超过八小时.
_PERIOD_NOUN = re.compile(r"的?(?:有效期限|有效期|时效期间|期限|时限|时间)")
_ACTOR_MAX = 40
# How far from a limit its sentence is read, each way: beyond any real clause and most real
# sentences. Reading the whole sentence for each limit made a hostile one-sentence file quadratic
# (48,000 characters of comma clauses took 21 s).
READ_WINDOW = 500


@dataclass(frozen=True)
class Deadline:
    """One time limit in one article: "信访人……可以自收到书面答复之日起30日内……请求复核"."""
    article: int            # index of the article in the sequence given to `extract_deadlines`
    label: str              # 第三十六条
    paragraph: int          # 款, from 1
    item: int               # 项, from 1; 0 when the limit is not inside an item
    amount: int | None      # 30; None for 立即/及时 (no fixed period)
    unit: str               # one of UNITS; "" for no fixed period
    phrase: str             # the limit as written: "30日内", "不得超过30日", "及时"
    actor: str              # 信访人
    trigger: str            # 自收到书面答复之日起; "" when the text names none
    action: str             # 请求复核
    extension: bool         # the limit is how long another one may be extended
    sentence: str           # the sentence (up to 。 or ；) it stands in

    @property
    def period(self) -> str:
        """"30日", "5工作日" → "5个工作日", or "无固定期限" for 立即/及时."""
        return "无固定期限" if self.amount is None else period_text(self.amount, self.unit)


def period_amount(num: str, unit: str) -> tuple[int, str]:
    """(amount, one of `UNITS`) of a period as written: ("三十", "日") → (30, "日"), ("半", "年") →
    (6, "个月"), ("半", "个月") → (15, "日").

    Raises:
        ValueError: for a numeral that is no number, or half of a day or an hour.
    """
    if num == "半":
        if unit not in _HALVES:
            raise ValueError(f"half of a {unit} is no period")
        return _HALVES[unit]
    return cn_to_int(num), UNIT_OF[unit]


def period_text(amount: int, unit: str) -> str:
    """A period as a reader writes it: (30, "日") → "30日", (5, "工作日") → "5个工作日"."""
    return f"{amount}{'个工作日' if unit == '工作日' else unit}"


def _mask_dates(text: str) -> str:
    """`text` with dates and years replaced by same-length filler, so offsets still hold."""
    return _DATE.sub(lambda m: "□" * len(m.group()), text)


def _spans(text: str, pattern: re.Pattern) -> Iterator[tuple[int, int]]:
    """(start, end) of the pieces of `text` between the matches of `pattern` (ends kept)."""
    start = 0
    for m in pattern.finditer(text):
        yield start, m.end()
        start = m.end()
    if start < len(text):
        yield start, len(text)


def _strip_leading(text: str) -> str:
    """`text` without the item number and the conjunction it opens with ("（一）", "但是", "由")."""
    text = text.strip()
    if text[:1] in "（(":
        text = _ITEM.sub("", text, count=1).strip()
    if text.startswith(_LEADING_WORDS):
        word = next(w for w in _LEADING_WORDS if text.startswith(w))
        text = text[len(word):].strip()
    return text


def clause_actor(clause: str, *, loose: bool = False) -> str:
    """The actor a clause starts with ("有关机关、单位应当……" → "有关机关、单位"), or "".

    The actor is the shortest head of the clause that ends in an actor word (机关, 单位, 信访人…)
    followed by what an actor does (应当, 对, 收到…); words joined by 、/和/或者 stay together.
    `loose` (for the condition that opens a sentence: "房地产开发企业变更名称的") also takes an
    actor word followed by one of the verbs such a condition has.
    """
    clause = _strip_leading(clause[:READ_WINDOW])         # only its head can name the actor
    if not clause or clause.startswith(_NOT_SUBJECT_START):
        return ""
    for m in _ACTOR_END.finditer(clause, 0, _ACTOR_MAX + 6):
        if m.end() > _ACTOR_MAX:
            break
        if not clause.startswith(_MODALS_AND_PREPOSITIONS, m.end()) and _RELATIVE.match(clause, m.end()):
            continue        # "信访人提出的信访事项": the actor of a phrase that names a thing
        if clause.startswith(_AFTER_ACTOR, m.end()):
            return clause[:m.end()]
        if loose and m.end() > 1 and clause.startswith(_LOOSE_VERBS, m.end()):
            return clause[:m.end()]
    return ""


def _sentence_actor(prefix: str) -> str:
    """The nearest actor in the comma clauses of `prefix` (a sentence up to a limit), or ""."""
    clauses = [prefix[a:b].rstrip("，,：:") for a, b in _spans(prefix, _CLAUSE_END)]
    actors = [actor for actor in map(clause_actor, clauses) if actor]
    if not actors and clauses:
        actors = [clause_actor(clauses[0], loose=True)] if clause_actor(clauses[0], loose=True) else []
    if len(actors) > 1 and actors[-1].startswith("本"):
        return actors[-2]   # "行政复议机关……，本机关有权处理的，应当……": the body named before
    return actors[-1] if actors else ""


def _trigger(prefix: str, actor: str) -> str:
    """"自收到书面答复之日起" (or 从…起) before the limit, "收到决定书之日起" of "在收到决定书之日起"
    (or 于…起), or the clause before it ending in 后/时 (actor dropped)."""
    clause_start = max(prefix.rfind(c) for c in "，,：:") + 1
    clause = prefix[clause_start:].strip()
    if clause.endswith("起"):
        start = max(clause.rfind("自"), clause.rfind("从"))
        if start >= 0:
            return clause[start:]
        start = max(clause.rfind("在"), clause.rfind("于"))
        if start >= 0:
            return clause[start + 1:]
    before = prefix[:clause_start].rstrip("，,：: ")
    last = before[max(before.rfind(c) for c in "，,：:") + 1:].strip()
    if last.endswith(("后", "时")) and len(last) <= 40:
        last = _strip_leading(last)
        return last[len(actor):] if actor and last.startswith(actor) else last
    return ""


def _action(rest: str, extension: bool) -> str:
    """What must be done: the words after the limit up to the clause's end, short."""
    if extension:
        return "延长期限"
    rest = rest.lstrip("，,、 ")          # "十五日内，依法向人民法院提起行政诉讼"
    end = _CLAUSE_END.search(rest)
    action = (rest[:end.start()] if end else rest).strip().rstrip("。；;！？!?")
    action = _MODAL_HEAD.sub("", action, count=1)
    for word in ("依法", "内"):
        if action.startswith(word):
            action = action[len(word):]
    if action.startswith("向"):
        # "向复查机关、单位的上一级机关、单位请求复核" → "请求复核": whom to ask is in the sentence
        ends = [m.end() for m in _ACTOR_END.finditer(action, 0, 60) if action.startswith(_AFTER_ACTOR, m.end())]
        if ends and ends[-1] < len(action):
            action = action[ends[-1]:]
    addressed = _ADDRESSED.match(action)
    if addressed:       # "请求原办理机关、单位的上一级机关、单位复查" → "请求复查", likewise
        action = addressed.group(1) + addressed.group(2)
    return action[:_ACTION_MAX]


def _period_subject(prefix: str, actor: str) -> str:
    """What a limit with no action after it is the length of (`prefix`: its sentence up to the
    limit's end): the words of its clause before 期限, 时间 or 时效期间 ("询问查证的时间不得超过八小时" →
    询问查证, "公安机关办理治安案件的期限，自受理之日起不得超过三十日" → 办理治安案件), without the
    actor or the body it starts with; "" when no such word names it."""
    named = None
    for named in _PERIOD_NOUN.finditer(prefix):
        pass
    if named is None:
        return ""
    start = max(prefix.rfind(mark, 0, named.start()) for mark in "，,：:；;") + 1
    subject = _strip_leading(prefix[start:named.start()])
    body = actor if actor and subject.startswith(actor) else clause_actor(subject)
    subject = subject[len(body):]
    return subject[:_ACTION_MAX] if len(subject) >= 2 else ""


def _is_limit(m: re.Match, masked: str) -> bool:
    pre, post = m.group("pre"), m.group("post")
    num = m.start("num")
    if num > 0 and (masked[num - 1] in "每第" or masked[num - 1] == "满" and masked[num - 2:num] != "届满") \
            or "每" in masked[max(0, m.start() - 2):m.start()]:
        return False        # 每年, 第十日, 年满 / 不满三个月 (not 届满三十日前), 每月不超过三个工作日
    rest = masked[m.end():m.end() + READ_WINDOW]
    clause_end = _CLAUSE_OR_SENTENCE_END.search(rest)
    rest = rest[:clause_end.start()] if clause_end else rest
    if not rest and clause_end and clause_end.group() in "，,":
        following = masked[m.end() + 1:m.end() + 1 + READ_WINDOW]
        end = _CLAUSE_OR_SENTENCE_END.search(following)
        rest = following[:end.start()] if end else following
    if rest.endswith("的") or any(w in rest for w in _BANS) or rest.startswith(_NOT_DONE):
        return False        # a condition ("二十日内不能作出决定的") or a ban ("离任后二年内，不得担任")
    window = max(0, m.start() - READ_WINDOW)
    clause_start = max(window, max(masked.rfind(c, window, m.start()) for c in "，,：:") + 1)
    before = masked[clause_start:m.start("num")]
    if any(w in before for w in _NOT_A_TIME_TO_ACT) and "届满" not in before:
        return False        # how long something lasts ("有效期不超过5年"), not "有效期届满三十日前申请"
    if post:
        return True
    return bool(pre) and pre != "起" or pre == "起" and masked[window:m.start()].rstrip().endswith("之日")


@dataclass(frozen=True)
class _Found:
    start: int
    end: int
    amount: int | None
    unit: str
    extension: bool


def _limits(masked: str) -> list[_Found]:
    """The limits of one sentence (dates masked), in order."""
    found = []
    for m in _PERIOD.finditer(masked):
        if not _is_limit(m, masked):
            continue
        try:
            amount, unit = period_amount(m.group("num"), m.group("unit"))
        except ValueError:
            continue
        if amount <= 0:
            continue
        previous_end = found[-1].end if found else 0
        pre = m.group("pre") or ""
        # an extension is a cap ("延长期限不得超过30日", "可以延长三十日"), not a limit to ask for one
        # ("需要延长审限的，应当在期限届满十五日前提出申请")
        extension = "延长" in pre or ("延长" in masked[max(previous_end, m.start() - READ_WINDOW):m.start()] and
                                     (pre.endswith("超过") or not m.group("post")))
        start = m.start("num") if pre == "起" else m.start()
        found.append(_Found(start, m.end(), amount, unit, extension))
    for m in _IMMEDIATE.finditer(masked):
        found.append(_Found(m.start("word"), m.end("word"), None, "", False))
    return sorted(found, key=lambda f: f.start)


def _procedure_limits(masked: str) -> list[_Found]:
    """The limits of one sentence (dates masked), none when it is about a penalty or criminal law."""
    return [] if _NOT_PROCEDURE.search(masked) else _limits(masked)


def _read_before(sentence: str, start: int) -> str:
    """The sentence before a limit at `start`, from the first clause that begins within
    `READ_WINDOW` characters of it (the whole of it, in real text)."""
    window = max(0, start - READ_WINDOW)
    if window:
        cut = _CLAUSE_END.search(sentence, window - 1, start)
        window = cut.end() if cut else window
    return sentence[window:start]


def _excerpt(line: str, start: int, end: int, limit_start: int, limit_end: int) -> str:
    """The part of a long sentence `line[start:end]` around a limit, "…" where it is cut: the
    sentence each limit keeps, in the knowledge base too, stays short however long it is."""
    a, b = max(start, limit_start - READ_WINDOW), min(end, limit_end + READ_WINDOW)
    return ("…" if a > start else "") + line[a:b].strip() + ("…" if b < end else "")


def _lines(paragraph: str) -> Iterator[tuple[int, str]]:
    """(项 number or 0, text) of the lines of a 款: its lead, then its items （一）…."""
    for line in paragraph.split("\n"):
        m = _ITEM.match(line)
        try:
            yield (cn_to_int(m.group(1)) if m else 0), line
        except ValueError:
            yield 0, line


def _cited_article(sentence: str) -> int | None:
    """Number of the article of the same text whose matters a sentence is about ("对本条例第三十一条第六项
    规定的信访事项……"), or None."""
    m = _OWN_TEXT.search(sentence)
    ref = ARTICLE_REF.search(sentence, m.end()) if m else None
    if ref is None or ref.start() != m.end():
        return None
    try:
        return cn_to_int(ref.group(1))
    except ValueError:
        return None


def written_limits(text: str) -> tuple[tuple[int, str], ...]:
    """The fixed time limits written in any text, as (amount, unit) in order, found as
    `extract_deadlines` finds them: "应当自收到之日起10个工作日内提出异议" → ((10, "工作日"),). Dates,
    durations, bans and the periods of penalties are not limits; 立即/及时 have no fixed period
    and are left out."""
    normal = ascii_digits(text)
    out: list[tuple[int, str]] = []
    for start, end in _spans(normal, _SENTENCE_END):
        out.extend((f.amount, f.unit) for f in _procedure_limits(_mask_dates(normal[start:end]))
                   if f.amount is not None)
    return tuple(out)


def extract_deadlines(articles: Sequence[Article]) -> tuple[Deadline, ...]:
    """Every time limit of every article, in reading order (article, 款, 项, position).

    The actor of a sentence without a subject is the one its article cites names
    ("对本条例第三十一条第六项规定的信访事项应当……办结" → who acts in 第三十一条), else the one of
    the sentence before (in the article, then in the articles before).
    """
    out: list[Deadline] = []
    first_actor: dict[int, str] = {}
    carried = ""
    for index, article in enumerate(articles):
        for p_no, paragraph in enumerate(article.paragraphs or (article.text,), start=1):
            lead = ""               # who the 款's lead line names as acting
            for item, line in _lines(paragraph):
                if item and lead:
                    # each 项 continues a lead that names who acts ("信访工作机构……分别按下列方式处理：
                    # （一）……（二）……"): a subject-less item is done by that actor, not by one an item
                    # before named or cited
                    carried = lead
                normal = ascii_digits(line)
                for s_start, s_end in _spans(normal, _SENTENCE_END):
                    sentence = normal[s_start:s_end]
                    masked = _mask_dates(sentence)
                    own = _sentence_actor(sentence)
                    cited = _cited_article(sentence)
                    inherited = first_actor.get(cited, "") if cited is not None else ""
                    if own and article.no not in first_actor:
                        first_actor[article.no] = own
                    shown = line[s_start:s_end].strip()
                    for limit in _procedure_limits(masked):
                        prefix = _read_before(sentence, limit.start)
                        after = sentence[limit.end:limit.end + READ_WINDOW]
                        actor = _sentence_actor(prefix)
                        # "竣工验收合格后十五日内，建设单位应当报……备案": the actor follows the limit
                        later = clause_actor(after[1:]) if not actor and after[:1] in "，," else ""
                        if later:
                            after = _MODAL_HEAD.sub("", after[1 + len(later):], count=1)
                        actor = actor or later or inherited or carried or own
                        out.append(Deadline(
                            article=index, label=article.label, paragraph=p_no, item=item,
                            amount=limit.amount, unit=limit.unit,
                            phrase=sentence[limit.start:limit.end].strip(), actor=actor,
                            trigger=_trigger(prefix, actor),
                            action=(_action(after, limit.extension)
                                    or _period_subject(sentence[:limit.end], actor)),
                            extension=limit.extension,
                            sentence=shown if len(shown) <= 2 * READ_WINDOW else
                            _excerpt(line, s_start, s_end, s_start + limit.start, s_start + limit.end)))
                    carried = own or inherited or carried
                    if not item:
                        lead = own or inherited or lead
    return tuple(out)
