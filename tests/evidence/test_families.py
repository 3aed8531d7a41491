"""Prompt families: near-duplicate openings are one family, unrelated prompts are not."""

from evidence.detectors.families import BANDS, opening_band_keys, prompt_families


def test_paraphrases_of_one_scaffold_are_one_family_and_unrelated_prompts_none():
    scaffold = [
        (
            f"t{i}",
            f"You are an expert in {topic}. Explain each step before answering and do "
            f"not skip any intermediate result. Question {i}: ...",
        )
        for i, topic in enumerate(["law", "medicine", "algebra", "chemistry", "history"])
    ]
    unrelated = [
        ("u1", "What can I cook with zucchini and lentils? Something quick."),
        ("u2", "Write a polite email to my landlord about a broken heater."),
        ("u3", "Translate into Polish: check-in opens at three in the afternoon."),
    ]
    families = prompt_families(scaffold + unrelated)

    assert {families.get(template) for template, _ in scaffold} == {0}
    assert not {"u1", "u2", "u3"} & set(families)


def test_families_reproduce_and_digits_do_not_split_them():
    rows = [
        (f"t{n}", f"Solve exercise {n} of chapter {n * 7}: show the working line by line.")
        for n in range(40)
    ]
    assert prompt_families(rows) == prompt_families(list(rows))
    assert set(prompt_families(rows).values()) == {0}
    assert prompt_families([]) == {}


def test_band_keys_are_shared_by_paraphrases_and_reproduce():
    opening = (
        "You are an expert in law. Explain each step before answering and do not skip "
        "any intermediate result."
    )
    paraphrase = opening.replace("law", "chemistry").replace("result", "value")
    keys = opening_band_keys([opening, paraphrase, "What can I cook with zucchini?", "..."])
    assert len(keys[0]) == len(keys[1]) == len(keys[2]) == BANDS
    assert keys[3] == ()  # no words, no sketch
    assert sum(x == y for x, y in zip(keys[0], keys[1], strict=True)) >= 1
    assert not set(keys[0]) & set(keys[2])
    assert opening_band_keys([opening]) == [keys[0]]
    # The same buckets as the families: templates that share a key are one family.
    families = prompt_families([("a", opening), ("b", paraphrase)])
    assert families == {"a": 0, "b": 0}


def test_an_opening_read_from_the_first_characters_is_the_whole_texts_opening():
    """`_opening` reads only the first characters when they reach past the sixteenth word;
    whatever the text, the words must be those of the whole text."""
    import re

    from evidence.detectors.families import OPENING_WORDS, _opening

    def whole(text):
        words = re.findall(r"\w+", text.lower())[:OPENING_WORDS]
        return tuple("#" if w.isdigit() else w for w in words)

    texts = [
        " ".join(f"word{i}" for i in range(40)),  # the 17th word runs across the cut
        "x " * 15 + "y" * 200,  # the 16th word is cut by the first characters
        "Short prompt, 12 words only: explain 42 ways to say ΟΔΟΣ.",
        "ΣΟΦΟΣ " * 30,  # a final sigma at the end of each word
        "",
        "." * 300 + " late words 7",
    ]
    for text in texts:
        assert _opening(text) == whole(text), text[:40]


def test_templates_with_one_opening_are_one_family_numbered_by_the_first():
    opening = "You are a meticulous grader. Score the answer below from 1 to 10 and"
    rows = [("t-other", "How do I bake bread at home with a cast iron pot?")]
    rows += [(f"t-{i}", f"{opening} explain why, case {i}: {'x' * i}") for i in range(5)]
    families = prompt_families(rows)
    assert set(families) == {f"t-{i}" for i in range(5)}
    assert set(families.values()) == {1}  # the lowest member's position
