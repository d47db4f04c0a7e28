"""GEN: note parsing: tag, prompt, options and the problems scan reports."""

import pytest

from shotfill.model import Fit
from shotfill.scan.notes import is_gen_marker, note_text, parse_note


@pytest.mark.parametrize("name, comment, expected", [
    ("GEN: a fox in snow", "", "a fox in snow"),
    ("gen:a fox", "", "a fox"),
    ("  Gen :  a fox", "", "a fox"),
    ("GEN:", "a fox at dusk", "a fox at dusk"),
    ("GEN: a fox", "running left", "a fox running left"),
    ("Marker 1", "GEN: a fox", "a fox"),
])
def test_tag_and_prompt(name, comment, expected):
    assert is_gen_marker(name, comment)
    assert parse_note(note_text(name, comment)).prompt == expected


@pytest.mark.parametrize("name, comment", [("music cue", ""), ("GENERIC shot", ""), ("", "generate later")])
def test_untagged_markers_are_ordinary(name, comment):
    assert not is_gen_marker(name, comment)


def test_options_are_parsed_and_validated():
    note = parse_note('a fox | seed=42 provider=local model=gen4_turbo negative="blurry, text" fit=fit')
    assert note.prompt == "a fox"
    assert note.problems == []
    o = note.options
    assert (o.seed, o.provider, o.model, o.negative, o.fit) == (42, "local", "gen4_turbo", "blurry, text", Fit.FIT)


def test_unknown_key_and_bad_values_are_reported_not_dropped():
    note = parse_note("a fox | seed=abc colour=red fit=squash")
    text = " ".join(note.problems)
    assert "unknown option 'colour'" in text
    assert "seed='abc'" in text
    assert "fit='squash'" in text
    assert note.options.seed is None and note.options.fit is None


def test_a_bar_in_the_prompt_without_options_stays_in_the_prompt():
    note = parse_note("split screen | left a fox, right a hare")
    assert note.prompt == "split screen | left a fox, right a hare"
    assert note.problems == []


def test_hostile_prompt_is_kept_verbatim():
    hostile = "it's 100% \"real\": C:\\path; a=b [x] {y} %{pts} `rm -rf` $HOME"
    assert parse_note(hostile).prompt == hostile


def test_empty_prompt_is_a_problem():
    assert any("no prompt" in p for p in parse_note("").problems)


def test_unknown_provider_is_a_problem():
    note = parse_note("a fox | provider=nosuchservice")
    assert any("unknown provider 'nosuchservice'" in p for p in note.problems)
    assert parse_note("a fox | provider=local").problems == []
