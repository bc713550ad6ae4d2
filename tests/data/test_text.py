import pytest

from rnnlab.data import TokenizerConfig, tokenize, tokenize_all

# Goldens written by hand from the rule in rnnlab/data/text.py.
GOLDENS = [
    ("I didn't like it.<br /><br />Really!", ["i", "didn't", "like", "it", ".", "really", "!"]),
    ("It's GREAT, isn't it?", ["it's", "great", ",", "isn't", "it", "?"]),
    ("'quoted' students' pomp", ["'", "quoted", "'", "students", "'", "pomp"]),
    ("rock'n'roll ... 10/10", ["rock'n'roll", ".", ".", ".", "10", "/", "10"]),
    ("don\u2019t<br/>stop<BR>", ["don't", "stop"]),
    ("(film-noir)", ["(", "film", "-", "noir", ")"]),
    ("Café naïve", ["café", "naïve"]),
    ("", []),
    ("   \n\t ", []),
]


@pytest.mark.parametrize(("text", "expected"), GOLDENS)
def test_tokenize_matches_hand_computed_golden(text, expected):
    assert tokenize(text) == expected


def test_tokenize_keeps_case_when_lowercase_is_off():
    assert tokenize("The END", TokenizerConfig(lowercase=False)) == ["The", "END"]


def test_tokenize_keeps_br_markup_when_stripping_is_off():
    tokens = tokenize("a<br />b", TokenizerConfig(strip_html_breaks=False))
    assert tokens == ["a", "<", "br", "/", ">", "b"]


def test_tokenize_all_tokenizes_each_text():
    assert tokenize_all(["A b", "c."]) == [["a", "b"], ["c", "."]]
