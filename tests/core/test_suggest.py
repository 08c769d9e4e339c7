from runner.suggest import close_matches, did_you_mean


def test_suggests_the_close_name() -> None:
    assert did_you_mean("tagret_language", ["target_language", "source_file"]) == (
        " (did you mean 'target_language'?)"
    )


def test_says_nothing_when_nothing_is_close() -> None:
    assert did_you_mean("zzz", ["target_language"]) == ""


def test_lists_several_close_names_best_first() -> None:
    assert close_matches("inputs", ["input", "inputz", "outputs"])[:2] == ["input", "inputz"]
    assert " or " in did_you_mean("inputs", ["input", "inputz"])
