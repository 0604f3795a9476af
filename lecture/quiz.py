"""自测: practice questions from the facts of a document, each answer tied to its clause. Pure and
deterministic: the same facts and seed give the same quiz.

Kinds: "deadline" (the period blanked in its sentence: "……自收到书面答复之日起____内……请求复核"),
"actor" (who must act within the period), "definition" (what a term means) when definitions
are given, and "norm" (whether a clause says 应当, 可以 or 不得 — a duty, a permission or a
prohibition: "信访人____采用走访形式提出信访事项") when its sentences are given. Multiple-choice
distractors are other periods, actors or definitions of the same document, never equal to the
answer (a norm offers the three words, in order); with no distractor at hand a question is fill-in.
"""
from __future__ import annotations

import functools
import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ingest.deadlines import AMOUNT_UNIT, Deadline, period_amount
from kb.chinese import cn_to_int
from lecture.handout import Handout, Heading, paragraph

BLANK = "____"
CHOICES = 4
LETTERS = "ABCDEFGH"
# The words that make a clause a duty, a permission or a prohibition (义务性、授权性、禁止性规范).
NORM_WORDS = ("应当", "可以", "不得")
_NORM_WORD = re.compile("|".join(NORM_WORDS))
_NEGATED_NORM = re.compile(r"不应当|不可以|应当不|可以不")       # two words' worth of meaning: not asked
_SENTENCE = re.compile(r"[^。；;\n]++[。；;]?")
# A sentence asked about is long enough to say what is ruled and short enough to read at a glance.
MIN_NORM_CHARS, MAX_NORM_CHARS = 12, 90


@dataclass(frozen=True)
class Definition:
    """A defined term of a document (`lecture.deadlines.document_definitions`)."""
    term: str
    meaning: str
    citation: str
    article_id: int = 0             # the stored article that defines it, for a link (0: none)


@dataclass(frozen=True)
class Norm:
    """A sentence of a clause that says one of `NORM_WORDS` once (`norm_sentences`)."""
    sentence: str
    word: str
    citation: str
    article_id: int = 0             # the stored article it stands in, for a link (0: none)


def norm_sentences(text: str) -> list[tuple[str, str]]:
    """(sentence, word) of each sentence of a clause's `text` that says one of `NORM_WORDS` once:
    not a list's head (……应当遵循下列原则：), not negated (不应当), neither too short to ask about
    nor too long to read."""
    found = []
    for m in _SENTENCE.finditer(text):
        sentence = m.group().strip()
        words = _NORM_WORD.findall(sentence)
        if (len(words) == 1 and MIN_NORM_CHARS <= len(sentence) <= MAX_NORM_CHARS and "下列" not in sentence
                and not sentence.endswith(("：", ":")) and not _NEGATED_NORM.search(sentence)):
            found.append((sentence, words[0]))
    return found


@dataclass(frozen=True)
class Question:
    kind: str                       # deadline | actor | definition | norm
    prompt: str
    answer: str
    choices: tuple[str, ...]        # empty for a fill-in question
    citation: str                   # 《信访工作条例》第三十六条第一款
    source: int                     # index of the fact it comes from (deadline, definition or norm)


def _deadline_question(d: Deadline, periods: Sequence[str]) -> tuple[str, str, list[str]]:
    """The sentence with the period of the limit blanked: "……之日起____内请求复核"."""
    start = d.sentence.find(d.phrase)
    phrase = AMOUNT_UNIT.sub(BLANK, d.phrase, count=1)
    prompt = d.sentence[:start] + phrase + d.sentence[start + len(d.phrase):] if start >= 0 else phrase
    return prompt, d.period, [p for p in periods if p != d.period]


def _actor_question(d: Deadline, actors: Sequence[str]) -> tuple[str, str, list[str]]:
    trigger = d.trigger or ""
    prompt = f"{trigger}{d.period}内“{d.action}”的是哪一方？" if d.action else f"须在{d.period}内行动的是哪一方？"
    return prompt, d.actor, [a for a in actors if a != d.actor]


def _definition_question(x: Definition, meanings: Sequence[str]) -> tuple[str, str, list[str]]:
    return f"“{x.term}”是指：", x.meaning, [m for m in meanings if m != x.meaning]


def _norm_question(x: Norm) -> tuple[str, str, list[str]]:
    return x.sentence.replace(x.word, BLANK, 1), x.word, []      # its choices are NORM_WORDS, in order


def make_quiz(deadlines: Sequence[tuple[Deadline, str]], *, seed: int, count: int = 10,
              definitions: Sequence[Definition] = (), norms: Sequence[Norm] = ()) -> tuple[Question, ...]:
    """Up to `count` questions from (time limit, citation) pairs of one document, its definitions
    and its norms.

    Only fixed periods make questions (立即/及时 have no number to ask for); a limit appears in
    at most one deadline and one actor question. Norm questions come last and take the places
    the other kinds leave, and at least a third of them when there are enough: a document has
    many more such sentences than time limits.
    """
    rng = random.Random(seed)
    fixed = [(i, d, c) for i, (d, c) in enumerate(deadlines) if d.amount is not None and not d.extension]
    periods = list(dict.fromkeys(d.period for _, d, _ in fixed))
    actors = list(dict.fromkeys(d.actor for _, d, _ in fixed if d.actor))
    meanings = list(dict.fromkeys(x.meaning for x in definitions))
    # each draft's question is made only if it is drawn: making all of them compared every
    # limit with every other period (8,000 limits took 14–31 s); the shuffle depends only on the count
    drafts: list[tuple[str, int, str, Callable[[], tuple[str, str, list[str]]]]] = []
    seen: set[tuple[str, str]] = set()
    for i, d, c in fixed:
        if (d.sentence, d.phrase) in seen:
            continue
        seen.add((d.sentence, d.phrase))
        drafts.append(("deadline", i, c, functools.partial(_deadline_question, d, periods)))
        if d.actor and len(actors) > 1:
            drafts.append(("actor", i, c, functools.partial(_actor_question, d, actors)))
    for i, x in enumerate(definitions):
        drafts.append(("definition", i, x.citation, functools.partial(_definition_question, x, meanings)))
    rng.shuffle(drafts)
    rules = [("norm", i, x.citation, functools.partial(_norm_question, x)) for i, x in enumerate(norms)]
    rng.shuffle(rules)
    n_rules = min(len(rules), max(count - len(drafts), count // 3))
    # a sentence whose period the round asks about is not asked about again for its 应当
    asked = {deadlines[i][0].sentence for kind, i, _, _ in drafts[:count - n_rules] if kind != "definition"}
    rules = [r for r in rules if not any(norms[r[1]].sentence in sentence for sentence in asked)][:n_rules]
    questions = []
    for kind, source, citation, make in drafts[:count - len(rules)] + rules:
        prompt, answer, others = make()
        if kind == "norm":
            choices = NORM_WORDS        # always in this order: 应当, 可以, 不得
        else:
            distractors = rng.sample(others, min(len(others), CHOICES - 1))
            choices = tuple(rng.sample([answer, *distractors], len(distractors) + 1)) if distractors else ()
        questions.append(Question(kind, prompt, answer, choices, citation, source))
    return tuple(questions)


def _period_value(text: str) -> tuple[int, str] | None:
    """(amount, unit) of an answer like "30", "30日", "三十日", "5个工作日" (unit "" when not
    given); None when it is no period."""
    text = unicodedata.normalize("NFKC", text).strip()
    m = AMOUNT_UNIT.fullmatch(text)
    try:
        if m:
            return period_amount(m.group("num"), m.group("unit"))
        return cn_to_int(text), ""
    except ValueError:
        return None


def is_correct(question: Question, answer: str) -> bool:
    """Whether a trainee's answer is right: the chosen option, or a fill-in in any numeral form
    ("30", "30日", "三十日" for 30日; a unit, when given, must match)."""
    given = unicodedata.normalize("NFKC", answer or "").strip()
    if given == question.answer:
        return True
    if question.kind != "deadline" or question.choices:
        return False
    expected, got = _period_value(question.answer), _period_value(given)
    return bool(expected and got and got[0] == expected[0] and got[1] in ("", expected[1]))


def score(questions: Sequence[Question], answers: Sequence[str]) -> list[bool]:
    """Right or wrong for each question (a missing answer is wrong)."""
    return [is_correct(q, a) for q, a in zip(questions, list(answers) + [""] * len(questions))]


def quiz_handout(title: str, questions: Sequence[Question]) -> Handout:
    """The quiz for print: the questions, then the answer key with citations."""
    blocks: list = [Heading("试题")]
    for n, q in enumerate(questions, start=1):
        blocks.append(paragraph(f"{n}. {q.prompt}"))
        for letter, choice in zip(LETTERS, q.choices):
            blocks.append(paragraph(f"{letter}. {choice}", "meta"))
        if not q.choices:
            blocks.append(paragraph("答：________________", "meta"))
    blocks.append(Heading("参考答案"))
    for n, q in enumerate(questions, start=1):
        letter = f"{LETTERS[q.choices.index(q.answer)]}. " if q.choices else ""
        blocks.append(paragraph(f"{n}. {letter}{q.answer}（{q.citation}）"))
    return Handout(title=f"{title} 自测题", subtitle=f"共 {len(questions)} 题", blocks=tuple(blocks))
