"""Tokeniser: user dictionary, stop words, search mode, word-list files."""
from pathlib import Path

import pytest

from index.tokenize import STOP_WORDS, USER_DICT, Tokenizer, normalise, read_word_list
from kb.errors import ConfigError


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer()


def test_user_dictionary_keeps_petition_terms_whole(tokenizer: Tokenizer) -> None:
    tokens = Tokenizer(search_mode=False).tokens("信访人对复查意见不服的，可以请求督查督办")
    assert "信访人" in tokens
    assert "复查意见" in tokens
    assert "督查督办" in tokens


def test_stop_words_and_punctuation_are_dropped(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokens("老板不给工资怎么办？我可以去哪里投诉吗？")
    for dropped in ("怎么办", "我", "可以", "哪里", "吗", "？"):
        assert dropped not in tokens
    assert "工资" in tokens and "投诉" in tokens


def test_search_mode_adds_sub_words_of_long_words() -> None:
    text = "劳动争议仲裁委员会"
    precise = Tokenizer(search_mode=False).tokens(text)
    search = Tokenizer(search_mode=True).tokens(text)
    assert precise == ["劳动争议仲裁委员会"]
    assert "劳动争议仲裁委员会" in search and "仲裁" in search and "委员会" in search


def test_full_width_text_is_normalised(tokenizer: Tokenizer) -> None:
    assert normalise("ＡＢＣ１２３") == "abc123"
    assert tokenizer.tokens("第１２条") == tokenizer.tokens("第12条")


def test_documents_and_queries_split_the_same_way(tokenizer: Tokenizer) -> None:
    sentence = "人民调解委员会调解民间纠纷"
    assert tokenizer.tokens(sentence) == tokenizer.tokens(sentence)
    assert "人民调解委员会" in tokenizer.tokens(sentence)


def test_extra_words_are_kept_whole() -> None:
    plain = Tokenizer(search_mode=False).tokens("甲乙丙丁条例规定")
    extra = Tokenizer(search_mode=False, extra_words=["甲乙丙丁条例"]).tokens("甲乙丙丁条例规定")
    assert "甲乙丙丁条例" not in plain
    assert "甲乙丙丁条例" in extra


def test_tokenizers_of_one_word_list_share_one_jieba_engine() -> None:
    # every build and every searcher loaded jieba's dictionary again (1.2–1.5 s each)
    import threading
    assert Tokenizer()._engine() is Tokenizer(search_mode=False)._engine()
    assert Tokenizer(extra_words=["甲乙丙丁条例"])._engine() is not Tokenizer()._engine()
    engines, start = [], threading.Barrier(8)

    def first_use() -> None:
        start.wait()
        engines.append(Tokenizer(extra_words=["戊己庚辛条例"])._engine())

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(engines) == 8 and len({id(engine) for engine in engines}) == 1


def test_word_list_files_have_comment_headers_and_entries() -> None:
    for path in (USER_DICT, STOP_WORDS):
        assert path.read_text(encoding="utf-8").startswith("#")
        entries = read_word_list(path)
        assert len(entries) > 50
        assert not any(e[0].startswith("#") for e in entries)


def test_custom_word_lists(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("# comment\n甲乙丙丁 100\n", encoding="utf-8")
    stops = tmp_path / "stops.txt"
    stops.write_text("# none but one\n规定\n", encoding="utf-8")
    tk = Tokenizer(search_mode=False, user_dict=words, stop_words=stops)
    assert tk.tokens("甲乙丙丁规定") == ["甲乙丙丁"]


def test_missing_word_list_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.txt"):
        Tokenizer(user_dict=tmp_path / "nope.txt")


def test_tokenizer_pickles_without_its_engine(tokenizer: Tokenizer) -> None:
    import pickle

    tokenizer.tokens("初始化")
    clone = pickle.loads(pickle.dumps(tokenizer))
    assert clone.tokens("信访事项") == tokenizer.tokens("信访事项")
