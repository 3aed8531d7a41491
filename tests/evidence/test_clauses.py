"""Splitting Terms of Service text into citable clauses (evidence/terms/clauses.py) and
suggesting their categories (evidence/terms/categories.py).

Pure functions: no database, no Django. Every sample Terms text here is written for
these tests and imitates only the shape of real providers' terms.
"""

import dataclasses
import json
import re

import pytest

from evidence.terms.categories import clause_category_weigh, lexicon_load
from evidence.terms.clauses import (
    CLAUSE_CATEGORIES,
    LEXICON_PATH,
    ParsedClause,
    TermsFormatError,
    clause_category_suggest,
    clauses_split,
)

DECIMAL_INLINE = """\
# Corvid Cloud Terms of Service

These Terms are an agreement between you and Corvid Cloud Ltd. By creating an account
you accept them.

## 1. Definitions

1.1 "Output" means any content the Services return in response to your Input.

## 3. Use of Services

3.1 You must use the Services only as these Terms and our documentation allow.

3.2 You are responsible for all activity under your account.

3.3 Restrictions. You will not, and will not allow others to: (a) decompile or reverse \
engineer any part of the Services; (b) share your API key with anyone outside your \
organisation; (c) create multiple accounts to obtain more free credits; (d) bypass or \
circumvent rate limits or usage limits; (e) use Output to develop models that compete with \
Corvid Cloud; (f) access the Services from outside the supported countries; (g) use the \
Services for any unlawful purpose; (h) misrepresent that Output was written by a person; or \
(i) help anyone do any of the above.

3.4 Fees. You will pay the fees listed on the pricing page within thirty days of invoice.
"""

DECIMAL_OWN_LINES = """\
3. USE OF SERVICES

3.3 Restrictions. You will not, and will not allow others to:
(a) decompile or reverse engineer any part of the Services;
(b) share your API key with anyone outside your organisation;
(c) create multiple accounts to obtain more free credits;
(d) bypass or circumvent rate limits or usage limits;
(e) use Output to develop models that compete with Corvid Cloud;
(f) access the Services from outside the supported countries;
(g) use the Services for any unlawful purpose;
(h) misrepresent that Output was written by a person; or
(i) help anyone do any of the above.
"""

LETTERED_PARTS = """\
# Part C. Accounts

C.1 One person or organisation may hold each account.

# Part D. Usage Policies

D.4 You must not use the Services to: (a) scrape or systematically retrieve outputs from \
the Services; (b) sublicense or resell access to the API; or (c) transfer your API keys to \
a third party.

D.5 These policies apply to every product we offer.
"""

SECTION_LETTERS = """\
Section 7. Restrictions

a. You may not sell or rent access to the Services.
b. You may not share account credentials or let anyone use the Services on behalf of
another customer whose account we have suspended.

Section 8. Governing Law

These Terms are governed by the laws of the State of Delaware, and the courts of Wilmington
have exclusive jurisdiction over any dispute.
"""

BULLETS = """\
## Usage rules

Everyone who uses the platform follows these rules.

### Prohibited uses

You may not use the platform to:

- extract model weights or other internals of our models;
* train a competing model on anything the platform returns;
    + including by fine-tuning on saved responses;
    + or by any other form of distillation;
- access the platform from a sanctioned country.

### Reporting

- Tell us about misuse at abuse@example.com.
"""


def split(text):
    return {clause.path: clause for clause in clauses_split(text)}


def paths(text):
    return [clause.path for clause in clauses_split(text)]


# --- decimal sections with lettered items ---------------------------------------------


def test_decimal_sections_and_inline_items_get_their_own_paths():
    assert paths(DECIMAL_INLINE) == [
        "corvid-cloud-terms-of-service",
        "preamble",
        "1",
        "1.1",
        "3",
        "3.1",
        "3.2",
        "3.3",
        "3.3(a)",
        "3.3(b)",
        "3.3(c)",
        "3.3(d)",
        "3.3(e)",
        "3.3(f)",
        "3.3(g)",
        "3.3(h)",
        "3.3(i)",
        "3.4",
    ]


def test_parent_keeps_its_lead_in_and_items_their_own_words():
    clauses = split(DECIMAL_INLINE)
    assert clauses["3.3"].text == "Restrictions. You will not, and will not allow others to:"
    assert clauses["3.3"].heading == "Restrictions"
    assert clauses["3.3(e)"].text == "use Output to develop models that compete with Corvid Cloud;"
    assert clauses["3.3(h)"].text == "misrepresent that Output was written by a person; or"


def test_items_inherit_the_heading_of_their_clause():
    clauses = split(DECIMAL_INLINE)
    assert clauses["3.3(e)"].heading == "Restrictions"
    assert clauses["3.1"].heading == "Use of Services"


def test_i_after_h_is_the_letter_i():
    clauses = split(DECIMAL_INLINE)
    assert clauses["3.3(i)"].text == "help anyone do any of the above."
    assert "3.3(h)(i)" not in clauses


def test_items_on_their_own_lines_get_the_same_paths_and_text_as_inline_items():
    inline = split(DECIMAL_INLINE)
    own_lines = split(DECIMAL_OWN_LINES)
    item_paths = [path for path in inline if path.startswith("3.3")]
    assert [path for path in own_lines if path.startswith("3.3")] == item_paths
    for path in item_paths:
        assert own_lines[path].text == inline[path].text


def test_roman_items_nest_under_a_letter():
    text = (
        "4.2 You will not: (a) copy the Services; (b) use Output to build a competing "
        "model, including by: (i) distillation; or (ii) fine-tuning on saved Output; "
        "(c) remove notices."
    )
    clauses = split(text)
    assert list(clauses) == ["4.2", "4.2(a)", "4.2(b)", "4.2(b)(i)", "4.2(b)(ii)", "4.2(c)"]
    assert clauses["4.2(b)"].text == "use Output to build a competing model, including by:"
    assert clauses["4.2(b)(ii)"].text == "fine-tuning on saved Output;"
    assert clauses["4.2(c)"].text == "remove notices."


def test_i_that_opens_a_list_under_h_is_roman_once_ii_follows():
    text = """\
5.1 You will not:
(a) one;
(b) two;
(c) three;
(d) four;
(e) five;
(f) six;
(g) seven;
(h) use Output to develop any AI model that competes with us, including:
    (i) by distillation; or
    (ii) by training on logged responses;
(i) the ninth thing.
"""
    clauses = split(text)
    assert "5.1(h)(i)" in clauses
    assert clauses["5.1(h)(ii)"].text == "by training on logged responses;"
    assert clauses["5.1(i)"].text == "the ninth thing."


def test_nested_items_without_telling_words_take_their_parents_category():
    text = (
        "2.1 You will not: (a) use Output to develop models that compete with us, "
        "including by: (i) distillation; or (ii) tuning on saved responses; or "
        "(b) pay late."
    )
    clauses = split(text)
    assert clauses["2.1(a)(ii)"].category == "competing_models"
    assert clauses["2.1(b)"].category == "other"


def test_cross_references_and_numbers_in_brackets_are_not_items():
    text = (
        "6.1 Notice. Except as set out in Section 4 (a) and (b), either party may end these "
        "Terms on thirty (30) days' notice, or one (1) day's notice if (a) above applies."
    )
    clauses = split(text)
    assert list(clauses) == ["6.1"]
    assert clauses["6.1"].text.startswith("Notice. Except as set out in Section 4 (a)")


def test_a_reference_that_wraps_onto_a_new_line_does_not_open_a_clause():
    text = """\
2.1 You must comply with the restrictions in Section
3.3 at all times.

2.2 You must keep your contact details current.
"""
    clauses = split(text)
    assert list(clauses) == ["2.1", "2.2"]
    assert clauses["2.1"].text == (
        "You must comply with the restrictions in Section\n3.3 at all times."
    )


# --- lettered parts --------------------------------------------------------------------


def test_lettered_parts_with_numbered_clauses_and_items():
    assert paths(LETTERED_PARTS) == [
        "C",
        "C.1",
        "D",
        "D.4",
        "D.4(a)",
        "D.4(b)",
        "D.4(c)",
        "D.5",
    ]
    clauses = split(LETTERED_PARTS)
    assert clauses["D"].text == "Usage Policies"
    assert clauses["D.4"].heading == "Usage Policies"
    assert clauses["D.4(a)"].category == "output_extraction"


def test_plain_text_letter_heading_is_a_part_and_bare_numbers_inside_it_take_its_letter():
    text = """\
D. Acceptable Use

4. You must not resell access to the Services.

5. You must not share your API key.

E. General Terms

1. These Terms are the whole agreement.
"""
    assert paths(text) == ["D", "D.4", "D.5", "E", "E.1"]


# --- Section N with a./b. subsections ---------------------------------------------------


def test_section_headings_with_lettered_subsections():
    clauses = split(SECTION_LETTERS)
    assert list(clauses) == ["7", "7.a", "7.b", "8"]
    assert clauses["7"].text == "Restrictions"
    assert clauses["7.a"].text == "You may not sell or rent access to the Services."
    assert clauses["7.b"].text == (
        "You may not share account credentials or let anyone use the Services on behalf of\n"
        "another customer whose account we have suspended."
    )
    assert clauses["7.b"].heading == "Restrictions"
    assert clauses["8"].heading == "Governing Law"


def test_markdown_section_heading_with_subsections():
    text = "## Section 7 \u2014 Restrictions\n\na. You may not scrape Output.\nb. Nor crawl it.\n"
    assert paths(text) == ["7", "7.a", "7.b"]


# --- unnumbered headings with bullets -----------------------------------------------------


def test_unnumbered_headings_nest_as_slugs_and_bullets_count_from_one():
    assert paths(BULLETS) == [
        "usage-rules",
        "usage-rules/prohibited-uses",
        "usage-rules/prohibited-uses.1",
        "usage-rules/prohibited-uses.2",
        "usage-rules/prohibited-uses.2.1",
        "usage-rules/prohibited-uses.2.2",
        "usage-rules/prohibited-uses.3",
        "usage-rules/reporting",
        "usage-rules/reporting.1",
    ]


def test_a_heading_clause_holds_the_paragraph_under_it_or_else_its_title():
    clauses = split(BULLETS)
    assert clauses["usage-rules"].text == "Everyone who uses the platform follows these rules."
    assert clauses["usage-rules"].heading == "Usage rules"
    assert clauses["usage-rules/prohibited-uses"].text == "You may not use the platform to:"
    assert clauses["usage-rules/reporting"].text == "Reporting"


def test_bullet_clauses_are_the_bullet_text_and_suggest_categories():
    clauses = split(BULLETS)
    first = clauses["usage-rules/prohibited-uses.1"]
    assert first.text == "extract model weights or other internals of our models;"
    assert first.heading == "Prohibited uses"
    assert first.category == "output_extraction"
    assert clauses["usage-rules/prohibited-uses.2"].category == "competing_models"
    assert clauses["usage-rules/prohibited-uses.2.2"].category == "competing_models"
    assert clauses["usage-rules/prohibited-uses.3"].category == "region"


def test_plain_text_heading_that_opens_a_bullet_list():
    text = "Prohibited uses\n\n- Do not scrape the Services.\n- Do not resell access.\n"
    assert paths(text) == ["prohibited-uses", "prohibited-uses.1", "prohibited-uses.2"]


def test_ordered_list_under_an_unnumbered_heading_counts_under_its_slug():
    text = """\
## Prohibited uses

1. Do not scrape the Services
   or anything they return.
2. Do not share your account with anyone.
"""
    clauses = split(text)
    assert list(clauses) == ["prohibited-uses", "prohibited-uses.1", "prohibited-uses.2"]
    assert clauses["prohibited-uses.1"].text == (
        "Do not scrape the Services\n   or anything they return."
    )


def test_a_document_title_is_a_clause_but_not_a_parent_of_slugs():
    text = "# Terms of Use\n\n## Prohibited uses\n\n- Do not resell access.\n"
    assert paths(text) == ["terms-of-use", "prohibited-uses", "prohibited-uses.1"]


# --- plain text, emphasis, robustness -------------------------------------------------


def test_plain_text_decimal_sections_without_markdown():
    text = DECIMAL_INLINE.replace("## ", "").replace("# ", "")
    plain = split(text)
    markdown = split(DECIMAL_INLINE)
    assert list(plain) == ["preamble", *list(markdown)[2:]]
    for path in list(markdown)[2:]:
        assert plain[path] == dataclasses.replace(markdown[path], position=plain[path].position)
    assert plain["preamble"].text.startswith("Corvid Cloud Terms of Service\n\nThese Terms")


def test_bold_clause_numbers_are_recognised_and_their_markup_dropped():
    text = (
        "## 3. Use of Services\n\n"
        "**3.3 Restrictions.** You will not: (a) scrape Output; (b) resell access.\n\n"
        "**3.4** **Suspension.** We may suspend accounts that break these Terms.\n"
    )
    clauses = split(text)
    assert list(clauses) == ["3", "3.3", "3.3(a)", "3.3(b)", "3.4"]
    assert clauses["3.3"].text == "Restrictions. You will not:"
    assert clauses["3.3"].heading == "Restrictions"
    assert clauses["3.4"].text == "Suspension. We may suspend accounts that break these Terms."
    assert clauses["3.4"].heading == "Suspension"


def test_windows_line_endings_and_trailing_spaces_change_nothing():
    messy = "\r\n".join(line + "  \t" for line in DECIMAL_OWN_LINES.split("\n"))
    assert clauses_split(messy) == clauses_split(DECIMAL_OWN_LINES)


def test_blank_lines_within_an_item_continue_it():
    text = """\
4.1 Suspension. We may suspend your account if:
(a) you break these Terms; or
(b) we are required to by law.

    In that case we will tell you when the law allows us to.
4.2 Next.
"""
    clauses = split(text)
    assert clauses["4.1(b)"].text == (
        "we are required to by law.\n\n    In that case we will tell you when the law allows us to."
    )
    assert "4.2" in clauses


def test_a_bullet_made_only_of_items_keeps_them_in_its_text():
    clauses = split("## Limits\n\n- (a) rate limits; (b) usage limits.\n")
    assert list(clauses) == ["limits", "limits.1"]
    assert clauses["limits.1"].text == "(a) rate limits; (b) usage limits."


def test_a_clause_made_only_of_items_is_cited_by_its_number():
    clauses = split("3.3 (a) scrape Output; (b) resell access.")
    assert list(clauses) == ["3.3", "3.3(a)", "3.3(b)"]
    assert clauses["3.3"].text == "3.3"


def test_text_is_verbatim_from_the_source():
    """Courts set a quoted clause beside the published Terms, so no words may change."""
    for source in (DECIMAL_OWN_LINES, SECTION_LETTERS, LETTERED_PARTS, DECIMAL_INLINE):
        for clause in clauses_split(source):
            assert clause.text in source, clause.path
            assert clause.text == clause.text.strip()


def test_preamble_before_the_first_section():
    text = "Welcome to Corvid Cloud.\nPlease read these Terms.\n\n1. Scope\n\n1.1 They apply.\n"
    clauses = split(text)
    assert list(clauses) == ["preamble", "1", "1.1"]
    assert clauses["preamble"].text == "Welcome to Corvid Cloud.\nPlease read these Terms."


def test_duplicate_paths_get_a_numbered_suffix_and_their_children_follow():
    text = """\
3.3 Restrictions. You will not: (a) scrape Output; (b) resell access.

3.3 Restrictions. You also will not: (a) share keys; (b) share accounts.

## Notes

## Notes
"""
    assert paths(text) == [
        "3.3",
        "3.3(a)",
        "3.3(b)",
        "3.3~2",
        "3.3~2(a)",
        "3.3~2(b)",
        "notes",
        "notes~2",
    ]
    assert clauses_split(text) == clauses_split(text)


def test_paths_are_unique_and_positions_follow_the_document():
    for source in (DECIMAL_INLINE, LETTERED_PARTS, SECTION_LETTERS, BULLETS):
        clauses = clauses_split(source)
        assert len({clause.path for clause in clauses}) == len(clauses)
        assert [clause.position for clause in clauses] == list(range(len(clauses)))
        assert all(clause.text for clause in clauses)


def test_parsed_clauses_are_frozen():
    clause = clauses_split(SECTION_LETTERS)[0]
    assert isinstance(clause, ParsedClause)
    with pytest.raises(dataclasses.FrozenInstanceError):
        clause.text = "changed"


@pytest.mark.parametrize("text", ["", "   ", "\r\n\r\n  \n\t\n"])
def test_an_empty_document_is_refused(text):
    with pytest.raises(TermsFormatError, match=r"^line 1: the Terms document is empty"):
        clauses_split(text)


def test_text_without_any_structure_is_refused_naming_its_first_line():
    text = "\n\nThis is only a paragraph,\nwith no sections, items or headings at all.\n"
    with pytest.raises(TermsFormatError, match=r"^line 3: no clause structure found"):
        clauses_split(text)


# --- categories ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("You will not use Output to develop models that compete with us.", "competing_models"),
        ("Customer shall not train a competing model on any Output.", "competing_models"),
        (
            "You may not use the Services to develop any AI model that competes with our products.",
            "competing_models",
        ),
        ("You will not extract data or Output from the Services.", "output_extraction"),
        (
            "Do not scrape, crawl or otherwise harvest content from the platform.",
            "output_extraction",
        ),
        (
            "Do not use automated or programmatic means to systematically retrieve outputs.",
            "output_extraction",
        ),
        ("Any attempt to discover model weights is a material breach.", "output_extraction"),
        (
            "You will not circumvent or attempt to exceed the rate limits on your account.",
            "limit_circumvention",
        ),
        ("You must not bypass our safeguards or usage limits.", "limit_circumvention"),
        ("You may not share your API key with any third party.", "key_transfer"),
        (
            "Customer will not resell, sublicense or make the Services available to third parties.",
            "key_transfer",
        ),
        ("You will not create multiple accounts to avoid our enforcement.", "account_sharing"),
        (
            "Do not share account credentials or use the Services on behalf of another customer.",
            "account_sharing",
        ),
        ("You may only use the Services in supported countries and regions.", "region"),
        (
            "You will comply with export control laws and will not serve any sanctioned person.",
            "region",
        ),
    ],
)
def test_category_suggested_from_realistic_wording(text, category):
    assert clause_category_suggest(text) == category


@pytest.mark.parametrize(
    "text",
    [
        "Fees are due within thirty days, by wire transfer to the account we designate.",
        "These Terms are governed by the laws of Delaware, without regard to conflict of laws.",
        "We may update these Terms by posting a new version on our website.",
        "Our total liability will not exceed the fees you paid in the prior twelve months.",
    ],
)
def test_ordinary_clauses_are_other(text):
    assert clause_category_suggest(text) == "other"


def test_heading_strengthens_what_the_words_show_but_makes_nothing_of_a_bare_lead_in():
    text = "You will not provide the Services to anyone located in those territories."
    plain = clause_category_weigh(text)
    headed = clause_category_weigh(text, "Export Controls")
    assert headed.scores["region"] > plain.scores["region"]
    assert headed.category == "region"
    assert clause_category_suggest("You must not:", heading="Export Controls") == "other"


@pytest.mark.parametrize(
    ("text", "lead_in", "category"),
    [
        # The provider's own undertaking forbids the customer nothing.
        ("We do not train our models on your Output.", "", "uncategorised"),
        # Assigning the agreement is boilerplate, not a key transfer.
        ("You may not transfer these Terms without our consent.", "", "other"),
        ("Fees are payable by wire transfer to the account we designate.", "", "other"),
        # A list item shares its lead-in's force.
        ("give away your API key;", "You must not:", "key_transfer"),
        # The purpose decides between a means and an end.
        (
            "register several accounts in order to exceed the rate limits of one.",
            "You must not:",
            "limit_circumvention",
        ),
        # Evidence for two categories and no clear winner: counsel decides.
        ("share or transfer your API keys or accounts;", "You must not:", "uncategorised"),
    ],
)
def test_force_boilerplate_purpose_and_abstention(text, lead_in, category):
    assert clause_category_suggest(text, lead_in=lead_in) == category


def test_wrapped_and_emphasised_wording_still_matches():
    text = "You will **not** share your\nAPI   key with any third party."
    assert clause_category_suggest(text) == "key_transfer"


def test_categories_are_the_documented_codes_in_order():
    assert [code for code, _label in CLAUSE_CATEGORIES] == [
        "competing_models",
        "output_extraction",
        "limit_circumvention",
        "key_transfer",
        "account_sharing",
        "region",
        "other",
        "uncategorised",
    ]
    assert dict(CLAUSE_CATEGORIES)["key_transfer"] == "Key transfer / resale"


def _lexicon_rules(lexicon):
    """Every pattern of the lexicon with where it stands."""
    for code, entry in lexicon["categories"].items():
        for group in ("markers", "acts", "objects"):
            for rule in entry[group]:
                yield f"{code} {group}", rule
    for name, entry in lexicon["force"].items():
        for rule in entry["patterns"]:
            yield f"force {name}", rule
    for rule in lexicon["boilerplate"]:
        yield "boilerplate", rule
    for rule in lexicon["purpose"]:
        yield "purpose", rule


def test_lexicon_is_data_counsel_can_review_and_each_pattern_matches_its_example():
    lexicon = json.loads(LEXICON_PATH.read_text(encoding="utf-8"))
    codes = [code for code, _label in CLAUSE_CATEGORIES if code not in ("other", "uncategorised")]
    assert sorted(lexicon["categories"]) == sorted(codes)
    for code, entry in lexicon["categories"].items():
        assert entry["markers"] and entry["acts"] and entry["objects"], code
        assert all(isinstance(rule["weight"], int | float) for rule in entry["markers"])
    for where, rule in _lexicon_rules(lexicon):
        pattern = re.compile(rule["pattern"], re.IGNORECASE)
        assert pattern.search(rule["example"]), (where, rule["pattern"])


def test_a_broken_lexicon_pattern_is_reported_by_category_and_number(tmp_path):
    lexicon = json.loads(LEXICON_PATH.read_text(encoding="utf-8"))
    lexicon["categories"]["region"]["markers"][1]["pattern"] = "export (control"
    broken = tmp_path / "clause_lexicon.json"
    broken.write_text(json.dumps(lexicon), encoding="utf-8")
    with pytest.raises(ValueError, match=r"clause_lexicon.json: region markers pattern 2 "):
        lexicon_load(broken)
