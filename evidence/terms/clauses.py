"""Split a Terms of Service document into the clauses that counsel cite in an allegation.

Pure Python with no Django imports, so `import_terms` and the tests can call it without a
database. The output is what `TermsVersion` stores as `Clause` rows: a structural path
(how the document cites itself), the verbatim text and a suggested breach category.

Why the text is verbatim: an allegation quotes the clause to a court, and opposing
counsel will set the quote beside the published Terms. So a clause's text is the source
text exactly, stripped only of the whitespace around it. Two invisible normalisations
are made first and apply to the whole document: line endings become ``\\n`` and
whitespace at the end of each line is dropped (a Markdown hard break is markup, not
words). The only other things removed are the markers that structure the document: the
number or letter that starts a clause (it is in the path instead), the Markdown heading
marker (``##``), a bullet's marker, and emphasis around a clause's number and run-in
title (``**3.3 Restrictions.**``, ``- **Scraping.**``). List connectors stay where they
are (``(b) ...; or``), since dropping them would be an edit.

Path conventions, one per numbering scheme:

- Decimal sections: ``3``, ``3.1``, ``3.3``. Inline or own-line lettered items become
  their own clauses, ``3.3(a)``, ``3.3(e)``; roman sub-items nest, ``3.3(e)(ii)``. The
  parent keeps its lead-in ("Restrictions. You will not, and will not allow others to:").
  ``(i)`` directly after ``(h)`` is the letter i; an ``(i)`` that opens a list inside a
  lettered item is roman one (and ``(h) ... (i) ... (ii)`` is read as roman once the
  ``(ii)`` shows it).
- Lettered parts: ``Part D. Usage Policies`` or ``D. Acceptable Use`` gives ``D``;
  ``D.4`` stays ``D.4``; items ``D.4(a)``. A bare ``4.`` inside Part D becomes ``D.4``.
- "Section N" headings with ``a.``/``b.`` subsections: ``7``, ``7.a``, ``7.b`` (the dot
  form, not ``7(a)``, so a subsection on its own line is told apart from an inline item
  ``7(a)``). The same ``.a`` form applies under any section, part or heading.
- Unnumbered headings: a slug of the heading, ``prohibited-uses``; bullets count from 1,
  ``prohibited-uses.1``; nested bullets ``prohibited-uses.2.1``; nested headings join with
  a slash, ``usage-rules/prohibited-uses.2`` (also under a numbered heading:
  ``3/prohibited-uses``). A Markdown ordered list under such a heading,
  ``1. Do not ...``, gives ``prohibited-uses.1`` when the document has no decimal
  subsections (otherwise ``1.`` is read as section 1).
- Text before the first heading or number is the clause ``preamble``, and bullets in it
  are ``preamble.1``... A document title (``# Terms of Use`` as the first line and the
  only level-1 heading) is a clause of its own, ``terms-of-use``, but not a parent: the
  text under it is still the preamble and ``## Prohibited uses`` below it is
  ``prohibited-uses``.

Numbered clauses are cited by their own numbers, so their paths do not include the
headings above them. Paths are unique in a document: a repeated path gets ``~2``,
``~3``... in document order, and the clauses under it are numbered from the renamed
path (``3.3~2(a)``).

Heading-only lines (``## 3. Use of Services``) become clauses of their own, so a
section title is addressable; their text is the heading text when nothing but children
follows it, and otherwise the paragraphs between the heading and the first child. Every
clause's ``heading`` is its own title ("Restrictions", from a heading line or a run-in
title) or, failing that, the title of the clause it sits under, so an item reads in
context in a list of allegations.

A paragraph that follows a list belongs to the list's last item (the paragraph rule for
items), so that a clause's text is always one stretch of the source, never pieces
joined. A clause that is nothing but items, with no lead-in, is cited by its number
(text ``3.3``); a bullet that is nothing but items keeps them whole as its text.

The category is a suggestion from the lexicon (see `clause_category_suggest`); an item
whose own words suggest nothing takes its parent's, since "(ii) tuning on saved
responses" under "(e) use Output to develop competing models" is the same prohibition.

A document with text but no structure at all raises `TermsFormatError` rather than
becoming one ``preamble`` clause: that is nearly always the wrong file or text whose line
breaks were lost in extraction, and an allegation citing "the whole document" helps no
one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from evidence.terms import kinds
from evidence.terms.categories import (
    BREACH_CATEGORIES,
    CLAUSE_CATEGORIES,
    LEXICON_PATH,
    OTHER,
    clause_category_suggest,
    clause_category_weigh,
)

# Re-exported: callers read the categories and the lexicon beside the parser.
__all__ = [
    "CLAUSE_CATEGORIES",
    "LEXICON_PATH",
    "PREAMBLE_PATH",
    "ParsedClause",
    "TermsFormatError",
    "clause_category_suggest",
    "clauses_split",
]


PREAMBLE_PATH = "preamble"


class TermsFormatError(ValueError):
    """The text cannot be read as a Terms document; the message names the line."""

    def __init__(self, message: str, *, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class ParsedClause:
    """One clause as found in the source.

    `path` is how the document cites it ("3.3(e)", "D.4", "7.a", "prohibited-uses.2");
    `heading` its own title or the one it sits under; `text` the verbatim words;
    `category` a suggested code from CLAUSE_CATEGORIES; `position` its 0-based order;
    `kind` whether it is operative or a title, heading, preamble or definition (see
    `evidence.terms.kinds`), which is kept but not offered as a clause to allege.
    """

    path: str
    heading: str
    text: str
    category: str
    position: int
    kind: str = kinds.OPERATIVE

    @property
    def operative(self) -> bool:
        return self.kind == kinds.OPERATIVE


def clauses_split(text: str) -> list[ParsedClause]:
    """Split a Terms document (Markdown or plain text) into clauses in document order.

    See the module docstring for the path each numbering scheme produces and for what
    "verbatim" means here. Raises `TermsFormatError` when the text is empty or has no
    clause structure at all.
    """
    lines = _lines_normalise(text)
    if not any(line.strip() for line in lines):
        raise TermsFormatError(
            f"the Terms document is empty ({len(lines)} line(s), all blank)", line=1
        )
    clauses = _TermsReader(lines).read()
    if all(clause.path == PREAMBLE_PATH for clause in clauses):
        first = next(number for number, line in enumerate(lines, start=1) if line.strip())
        raise TermsFormatError(
            "no clause structure found: expected Markdown headings (#), numbered sections "
            "(3. / 3.1 / Section 7), lettered parts (Part D / D.4), lettered items "
            "((a), (b)) or bullet lists; the whole text would be one clause",
            line=first,
        )
    return clauses


# --- reading lines --------------------------------------------------------------------


def _lines_normalise(text: str) -> list[str]:
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return [line.rstrip() for line in text.split("\n")]


_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?$")
_THEMATIC_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(={3,}|-{3,})$")
_BULLET = re.compile(r"^(?P<indent>[ \t]*)[-*+\u2022\u2023\u25e6\u25aa][ \t]+(?P<rest>\S.*)$")
_EMPHASIS_LEAD = re.compile(
    r"^(?P<mark>\*\*\*|\*\*|__|\*|_)(?=\S)(?P<inner>.*?\S)(?P=mark)(?![*_])(?P<rest>.*)$"
)

# A label must be followed by a delimiter, so that "Section 3 of these Terms ..." or
# "Part A of the Order Form ..." opening a paragraph is read as words, not structure.
_DELIMITED = r"(?:\.?[ \t]*[:\u2013\u2014-][ \t]*|\.[ \t]+|\.?$)"
_SECTION = re.compile(
    r"^(?P<word>(?i:section|sec\.|article|clause)[ \t]+|\u00a7[ \t]*)"
    r"(?P<num>\d{1,3}(?:\.\d{1,3})*)(?!\d)" + _DELIMITED + r"(?P<rest>.*)$"
)
_PART = re.compile(
    r"^(?P<word>(?i:part|article|schedule|annex|appendix|exhibit))[ \t]+"
    r"(?P<num>[A-Z]|[IVXLC]{1,6}|\d{1,3})(?!\w)" + _DELIMITED + r"(?P<rest>.*)$"
)
_PART_DECIMAL = re.compile(
    r"^(?P<part>[A-Z])\.(?P<num>\d{1,3}(?:\.\d{1,3})*)(?!\d)\.?(?:[ \t]+|$)(?P<rest>.*)$"
)
_DECIMAL = re.compile(r"^(?P<num>\d{1,3}(?:\.\d{1,3})+)(?![\d])\.?(?:[ \t]+|$)(?P<rest>.*)$")
_INTEGER = re.compile(r"^(?P<num>\d{1,3})[.)](?:[ \t]+|$)(?P<rest>.*)$")
_LETTER_PART = re.compile(r"^(?P<num>[A-Z]|[IVX]{2,6})\.(?:[ \t]+|$)(?P<rest>.*)$")
_LETTER_SUBSECTION = re.compile(r"^(?P<num>[a-z])[.)][ \t]+(?P<rest>\S.*)$")
_HAS_DECIMALS = re.compile(r"^\s*(?:#{1,6}\s+)?[*_]*(?:[A-Z]\.)?\d{1,3}\.\d{1,3}(?!\d)")

_REFERENCE_WORDS = frozenset({"section", "sections", "clause", "clauses", "part", "article"})
_MINOR_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "nor",
        "of",
        "on",
        "or",
        "per",
        "the",
        "to",
        "via",
        "vs",
        "with",
    }
)


@dataclass(frozen=True)
class _Label:
    """The number or letter that opens a clause, and what follows it on the line."""

    kind: str  # "numbered", "part" or "subsection"
    key: str  # as it goes into a path: "3.3", "D.4", "7", "D", "a"
    written: str  # as written: "3.3", "Section 7", "Part D"
    rest: str  # the rest of the line, emphasis around the label removed
    emphasised: str = ""  # run-in title that was in bold/italics, if any
    numbers: tuple[int, ...] = ()
    bare_integer: bool = False


def _emphasis_unwrap(text: str) -> tuple[str, str]:
    """Remove emphasis that opens the text; returns (text without it, emphasised part)."""
    match = _EMPHASIS_LEAD.match(text)
    if not match:
        return text, ""
    return match["inner"] + match["rest"], match["inner"]


def _label_find(content: str, *, in_heading: bool) -> _Label | None:
    """Read the clause label that opens `content` (already stripped), if there is one."""
    unwrapped, emphasised = _emphasis_unwrap(content)
    label = _label_match(unwrapped, in_heading=in_heading)
    if label is None:
        return None
    # What of the emphasis is left once the label is taken off is a run-in title:
    # "**3.3 Restrictions.** You ..." or "3.3 **Restrictions.** You ...".
    title = ""
    if emphasised:
        consumed = len(unwrapped) - len(label.rest)
        title = emphasised[consumed:].strip() if consumed < len(emphasised) else ""
    rest = label.rest
    if not title:
        rest, title = _emphasis_unwrap(rest)
    return _Label(
        kind=label.kind,
        key=label.key,
        written=label.written,
        rest=rest,
        emphasised=title,
        numbers=label.numbers,
        bare_integer=label.bare_integer,
    )


def _label_match(text: str, *, in_heading: bool) -> _Label | None:
    if match := _SECTION.match(text):
        number = match["num"]
        return _Label(
            kind="numbered",
            key=number,
            written=match["word"].strip() + " " + number,
            rest=match["rest"],
            numbers=tuple(int(part) for part in number.split(".")),
        )
    if match := _PART.match(text):
        word, number = match["word"], match["num"]
        key = number if word.lower() in {"part", "article"} else f"{word.lower()}-{number}"
        return _Label(kind="part", key=key, written=f"{word} {number}", rest=match["rest"])
    if match := _PART_DECIMAL.match(text):
        key = f"{match['part']}.{match['num']}"
        return _Label(
            kind="numbered",
            key=key,
            written=key,
            rest=match["rest"],
            numbers=tuple(int(part) for part in match["num"].split(".")),
        )
    if match := _DECIMAL.match(text):
        number = match["num"]
        return _Label(
            kind="numbered",
            key=number,
            written=number,
            rest=match["rest"],
            numbers=tuple(int(part) for part in number.split(".")),
        )
    if match := _INTEGER.match(text):
        return _Label(
            kind="numbered",
            key=match["num"],
            written=match["num"],
            rest=match["rest"],
            numbers=(int(match["num"]),),
            bare_integer=True,
        )
    if match := _LETTER_PART.match(text):
        rest = match["rest"]
        # "D. Acceptable Use" is a part; "A. You must not ..." is a capital-letter
        # subsection written as a sentence.
        if in_heading or _heading_like(rest, next_is_break=True):
            return _Label(kind="part", key=match["num"], written=match["num"], rest=rest)
        return _Label(kind="subsection", key=match["num"], written=match["num"], rest=rest)
    if match := _LETTER_SUBSECTION.match(text):
        return _Label(kind="subsection", key=match["num"], written=match["num"], rest=match["rest"])
    return None


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_][\w'\u2019-]*", text)


def _title_case(text: str) -> bool:
    words = _words(text)
    return bool(words) and all(word[0].isupper() or word.lower() in _MINOR_WORDS for word in words)


def _heading_like(text: str, *, next_is_break: bool) -> bool:
    """Whether a line's remainder reads as a title rather than the start of a sentence.

    Title Case ("Use of Services") is a title wherever it stands; sentence case
    ("Use of services") only when a blank line or new clause follows it, since otherwise
    it is as likely the first line of a wrapped sentence.
    """
    text = text.strip()
    words = _words(text)
    if not words or len(text) > 100 or len(words) > 12 or text.endswith((",", ";")):
        return False
    if re.search(r"[.!?]\s+\S", text) or not (text[0].isupper() or text[0].isdigit()):
        return False
    if words[-1].lower() in _MINOR_WORDS | _REFERENCE_WORDS and len(words) > 1:
        return False  # "... the restrictions in Section" stops mid-sentence
    if _title_case(text):
        return True
    return next_is_break and not text.endswith((".", "!", "?"))


def _run_in_title(text: str) -> str:
    """A short Title Case phrase ending in a full stop that opens a clause: "Fees. You ..."."""
    match = re.match(r"^([A-Z][^.!?:;]{0,60}?)[.:]\s+\S", text)
    if match and len(_words(match[1])) <= 6 and _title_case(match[1]):
        return match[1].strip()
    return ""


def _title_clean(text: str) -> str:
    return text.strip().strip("*_").rstrip(" .:\u2013\u2014-").strip()


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(char for char in folded if not unicodedata.combining(char))
    slug = re.sub(r"[\W_]+", "-", folded.lower()).strip("-")
    if len(slug) > 60:
        slug = slug[:60].rsplit("-", 1)[0]
    return slug or "section"


def _terminated(text: str) -> bool:
    return text.rstrip("*_\"'\u201d\u2019)]").endswith((".", ":", ";", "!", "?"))


def _numbers_follow(previous: tuple[int, ...] | None, new: tuple[int, ...]) -> bool:
    """Whether `new` is a number that can come next after `previous` (3.2 -> 3.3, 3.2.1, 4)."""
    if previous is None:
        return new[-1] in (0, 1)
    if new == (*previous, 1):
        return True
    for depth in range(min(len(previous), len(new))):
        if (
            new[:depth] == previous[:depth]
            and new[depth] == previous[depth] + 1
            and all(number == 1 for number in new[depth + 1 :])
        ):
            return True
    return False


# --- lettered and numbered items inside a clause --------------------------------------

_ITEM_MARKER = re.compile(r"(?<![\w)\]])\((?P<label>[A-Za-z]{1,6}|\d{1,2})\)(?=\s|$)")
# "Section 4 (a)" and "(b) above" cite items, they do not open them; "one (1) year" is a
# number written twice.
_ITEM_REFERENCE_BEFORE = re.compile(
    r"(?i)\b(?:sections?|clauses?|paragraphs?|subsections?|subparagraphs?|articles?|"
    r"parts?|items?)\s+(?:[\w.]+\s*)?$"
)
_ITEM_REFERENCE_AFTER = re.compile(r"(?i)\s+(?:above|below|hereof|of this)\b")
_NUMBER_WORD_BEFORE = re.compile(
    r"(?i)\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
    r"twenty|thirty|forty|forty-five|fifty|sixty|ninety|hundred)\s*$"
)
_ROMAN = re.compile(r"^(x{0,3})(ix|iv|v?i{0,3})$")


@dataclass(frozen=True)
class _Marker:
    label: str
    start: int
    end: int
    own_line: bool


def _roman_value(text: str) -> int | None:
    lower = text.lower()
    if not lower or not _ROMAN.match(lower):
        return None
    values = {"i": 1, "v": 5, "x": 10}
    total = 0
    for index, char in enumerate(lower):
        value = values[char]
        following = values[lower[index + 1]] if index + 1 < len(lower) else 0
        total += -value if value < following else value
    return total


def _item_readings(label: str) -> list[tuple[str, int]]:
    """The ways a marker can be read: (style, ordinal). "(i)" is letter 9 or roman 1."""
    if label.isdigit():
        return [("digit", int(label))]
    upper = label.isupper()
    readings = []
    if len(label) == 1:
        readings.append(("ALPHA" if upper else "alpha", ord(label.lower()) - ord("a") + 1))
    roman = _roman_value(label)
    if roman is not None and (label.isupper() or label.islower()):
        readings.append(("ROMAN" if upper else "roman", roman))
    return readings


def _item_markers(body: str) -> list[_Marker]:
    markers = []
    for match in _ITEM_MARKER.finditer(body):
        before = body[max(0, match.start() - 40) : match.start()]
        if _ITEM_REFERENCE_BEFORE.search(before) or _ITEM_REFERENCE_AFTER.match(body, match.end()):
            continue
        if match["label"].isdigit() and _NUMBER_WORD_BEFORE.search(before):
            continue
        line_start = body.rfind("\n", 0, match.start()) + 1
        markers.append(
            _Marker(
                label=match["label"],
                start=match.start(),
                end=match.end(),
                own_line=not body[line_start : match.start()].strip(),
            )
        )
    return markers


def _item_chain(markers: list[_Marker]) -> list[tuple[_Marker, tuple[str, ...]]]:
    """Place markers in nested lists; returns each accepted marker with its label chain.

    A marker that fits nowhere (a stray "(c)" in a sentence) is left as words.
    """
    levels: list[list] = []  # [style, last ordinal, label of the current item]
    accepted: list[tuple[_Marker, tuple[str, ...]]] = []

    def chain() -> tuple[str, ...]:
        return tuple(level[2] for level in levels)

    for marker in markers:
        readings = _item_readings(marker.label)
        styles = [level[0] for level in levels]
        if levels and _item_continues(levels[-1], readings):
            levels[-1][1] += 1
            levels[-1][2] = marker.label
            accepted.append((marker, chain()))
            continue
        if _item_roman_after_h(levels, accepted, marker.label):
            # "(h) ...: (i) ... (ii)": the (i) read as a letter was roman one after all.
            style = "ROMAN" if marker.label.isupper() else "roman"
            previous_marker, _chain = accepted.pop()
            levels[-1][1] -= 1
            levels[-1][2] = "H" if style == "ROMAN" else "h"
            levels.append([style, 1, previous_marker.label])
            accepted.append((previous_marker, chain()))
            levels[-1][1] = 2
            levels[-1][2] = marker.label
            accepted.append((marker, chain()))
            continue
        opening = next((style for style, n in readings if n == 1 and style not in styles), None)
        if opening is not None:
            levels.append([opening, 1, marker.label])
            accepted.append((marker, chain()))
            continue
        for depth in range(len(levels) - 2, -1, -1):
            if _item_continues(levels[depth], readings):
                del levels[depth + 1 :]
                levels[depth][1] += 1
                levels[depth][2] = marker.label
                accepted.append((marker, chain()))
                break
    return accepted


def _item_continues(level: list, readings: list[tuple[str, int]]) -> bool:
    return any(style == level[0] and n == level[1] + 1 for style, n in readings)


def _item_roman_after_h(levels: list[list], accepted: list, label: str) -> bool:
    return (
        label in ("ii", "II")
        and bool(levels)
        and levels[-1][0] == ("ALPHA" if label.isupper() else "alpha")
        and levels[-1][1] == 9
        and bool(accepted)
        and accepted[-1][0].label == ("I" if label.isupper() else "i")
        and ("ROMAN" if label.isupper() else "roman") not in [level[0] for level in levels]
    )


@dataclass(frozen=True)
class _Item:
    suffix: str
    text: str


def _items_split(body: str) -> tuple[str, list[_Item]]:
    """Split a clause body into its lead-in and its (a), (b), (i) items.

    A list is taken only when it has two items at its top level, or its first item
    stands on a line of its own, so that a lone "(a)" in a sentence stays words. If the
    first marker is a stray one, the list is looked for again from the next marker.
    """
    markers = _item_markers(body)
    for start in range(len(markers)):
        accepted = _item_chain(markers[start:])
        top = [marker for marker, chain in accepted if len(chain) == 1]
        if accepted and (len(top) >= 2 or accepted[0][0].own_line):
            break
    else:
        return body, []
    items = []
    for index, (marker, chain) in enumerate(accepted):
        end = accepted[index + 1][0].start if index + 1 < len(accepted) else len(body)
        # An item whose children follow at once has no words of its own but its marker.
        text = body[marker.end : end].strip() or body[marker.start : marker.end]
        items.append(_Item(suffix="".join(f"({label})" for label in chain), text=text))
    return body[: accepted[0][0].start].strip(), items


# --- the reader -----------------------------------------------------------------------

_PLAIN_HEADING_LEVEL = 7  # below every Markdown level: nests under the last # heading


@dataclass
class _Draft:
    """A clause being read: its first line is known, its continuation lines accumulate."""

    path: str
    heading: str
    title_text: str  # the words of its title line, used as text when it has no body
    label_text: str  # the label as written, the text of last resort
    first: str = ""
    title: bool = False  # the document's title
    lead_path: str = ""  # a bullet's: the clause whose words it completes ("You may not:")
    lines: list[str] = field(default_factory=list)


class _TermsReader:
    """One pass over the lines, holding where in the document structure we are."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.clauses: list[ParsedClause] = []
        self.texts: dict[str, str] = {}  # path -> text, for the bullets under it
        self.paths_used: set[str] = set()
        self.headings: dict[str, str] = {}  # path -> heading, for children to inherit
        self.heading_stack: list[tuple[int, str]] = []  # (Markdown level, path)
        self.part: tuple[str, int] | None = None  # (path, level that closes it)
        self.anchor, self.anchor_kind = PREAMBLE_PATH, "preamble"  # parent of "a." lines
        self.container = PREAMBLE_PATH  # parent of bullets
        self.bullets: list[list] = []  # [indent, count, parent path, last path]
        self.last_numbers: tuple[int, ...] | None = None
        self.last_letter: dict[str, str] = {}
        self.draft: _Draft | None = None
        self.previous_unterminated = False
        self.previous_blank_or_heading = True
        self.has_decimals = any(_HAS_DECIMALS.match(line) for line in lines)
        self.setext = self._setext_find()
        self.title_index = self._document_title_find()

    def _setext_find(self) -> dict[int, int]:
        found = {}
        for index in range(len(self.lines) - 1):
            line, underline = self.lines[index], self.lines[index + 1]
            match = _SETEXT_UNDERLINE.match(underline)
            if (
                match
                and line.strip()
                and not _MD_HEADING.match(line)
                and not _BULLET.match(line)
                and (index == 0 or not self.lines[index - 1].strip())
            ):
                found[index] = 1 if match[1].startswith("=") else 2
        return found

    def _document_title_find(self) -> int | None:
        """The line of a document title: a first line that is the only level-1 heading."""
        first = next((index for index, line in enumerate(self.lines) if line.strip()), None)
        level_one = [
            index
            for index, line in enumerate(self.lines)
            if self.setext.get(index) == 1
            or ((match := _MD_HEADING.match(line)) and len(match[1]) == 1 and match[2])
        ]
        return first if level_one == [first] else None

    def read(self) -> list[ParsedClause]:
        skip = {index + 1 for index in self.setext}
        for index, line in enumerate(self.lines):
            if index in skip:
                continue
            self._line_read(index, line)
        self._draft_finish()
        return self.clauses

    def _line_read(self, index: int, line: str) -> None:
        stripped = line.strip()
        if not stripped or _THEMATIC_BREAK.match(line):
            if self.draft is not None and not stripped:
                self.draft.lines.append("")
            self.previous_unterminated = False
            self.previous_blank_or_heading = True
            return
        if index in self.setext:
            self._heading_open(self.setext[index], stripped, title=index == self.title_index)
            return
        if heading := _MD_HEADING.match(line):
            if heading[2]:
                title = index == self.title_index
                self._heading_open(len(heading[1]), heading[2].strip(), title=title)
            return
        if bullet := _BULLET.match(line):
            self._bullet_open(bullet["indent"], bullet["rest"])
            return
        label = _label_find(stripped, in_heading=False)
        if label is not None and self._label_accepted(label):
            self._label_open(label, self._next_is_break(index))
            return
        if self._plain_heading(index, stripped):
            self._heading_open(_PLAIN_HEADING_LEVEL, stripped)
            return
        if self.draft is None:
            self.draft = self._draft_open(self._path_claim(PREAMBLE_PATH), "", "", "")
        self.draft.lines.append(line)
        self.previous_unterminated = not _terminated(stripped)
        self.previous_blank_or_heading = False

    # -- deciding what a line is

    def _label_accepted(self, label: _Label) -> bool:
        """Whether a label opens a clause or is a number that a wrapped line begins with.

        After a line that stops mid-sentence, "3.3 for details" is a cross-reference
        that wrapped; it opens a clause only if it is the number that comes next.
        """
        if not self.previous_unterminated:
            return True
        if label.kind == "numbered" and label.bare_integer and self._ordered_list_item(label):
            last = self.last_letter.get(self.anchor, "")
            return last.isdigit() and int(label.key) == int(last) + 1
        if label.kind == "numbered":
            return _numbers_follow(self.last_numbers, label.numbers)
        if label.kind == "subsection":
            last = self.last_letter.get(self.anchor, "")
            return len(last) == 1 and ord(label.key) == ord(last) + 1
        # A part after an unpunctuated list item: "Part E. Other Terms" reads as a title.
        return not label.rest.strip() or _title_case(label.rest)

    def _next_is_break(self, index: int) -> bool:
        """Whether a blank line, heading or bullet follows, ending the line before it.

        A numbered line does not count: it may be a cross-reference that wrapped, and
        the line before it then is the start of a sentence, not a title.
        """
        if index + 1 >= len(self.lines):
            return True
        following = self.lines[index + 1]
        return (
            not following.strip()
            or index + 1 in self.setext
            or bool(_MD_HEADING.match(following) or _BULLET.match(following))
        )

    def _plain_heading(self, index: int, stripped: str) -> bool:
        """A heading without "#": a wholly bold line, or a short line that opens a list.

        "**Prohibited uses**" or "Prohibited uses" followed by bullets; a line ending in
        a colon is a lead-in to the list, not its title.
        """
        if not self.previous_blank_or_heading:
            return False
        unwrapped, emphasised = _emphasis_unwrap(stripped)
        if emphasised and emphasised == unwrapped:
            return _heading_like(_title_clean(unwrapped), next_is_break=True)
        if stripped.endswith((":", ".", ",", ";")) or len(_words(stripped)) > 8:
            return False
        following = next((line for line in self.lines[index + 1 :] if line.strip()), "")
        return bool(_BULLET.match(following)) and _heading_like(stripped, next_is_break=True)

    # -- opening clauses

    def _heading_open(self, level: int, content: str, *, title: bool = False) -> None:
        """Open the clause of a heading line.

        `title` marks the document title: a clause of its own, so it is addressable,
        but not a parent in slug paths, since counsel cite "Prohibited uses", not
        "Terms of Use / Prohibited uses".
        """
        self._draft_finish()
        while self.heading_stack and self.heading_stack[-1][0] >= level:
            self.heading_stack.pop()
        if self.part is not None and self.part[1] >= level:
            self.part = None
        label = _label_find(content, in_heading=True)
        if label is not None and label.kind == "numbered":
            path = self._path_claim(self._numbered_key(label))
            parent = self._numbered_parent(label)
            self.last_numbers = label.numbers
            kind = "numbered"
        elif label is not None and label.kind == "part":
            path = self._path_claim(label.key)
            parent = None
            self.part = (path, level)
            self.last_numbers = None
            kind = "part"
        elif label is not None:  # "### a. Definitions"
            path = self._path_claim(f"{self.anchor}.{label.key}")
            parent = self.anchor
            kind = "subsection"
        else:
            parent = self.heading_stack[-1][1] if self.heading_stack else None
            slug = _slug(_title_clean(_emphasis_unwrap(content)[0]))
            path = self._path_claim(f"{parent}/{slug}" if parent else slug)
            kind = "slug"
        words = _emphasis_unwrap(label.rest if label is not None else content)[0].strip()
        heading = _title_clean(words) or self._heading_inherited(parent)
        self.draft = self._draft_open(path, heading, words, label.written if label else words)
        self.bullets = []
        if title:
            # The text under a document title is still the preamble.
            self.draft.title = True
            self._draft_finish()
            self.anchor, self.anchor_kind = PREAMBLE_PATH, "preamble"
            self.container = PREAMBLE_PATH
        else:
            self.heading_stack.append((level, path))
            if kind != "subsection":
                self.anchor, self.anchor_kind = path, kind
            self.container = path
        self.previous_unterminated = False
        self.previous_blank_or_heading = True

    def _label_open(self, label: _Label, next_is_break: bool) -> None:
        self._draft_finish()
        if label.kind == "numbered" and label.bare_integer and self._ordered_list_item(label):
            label = _Label(kind="subsection", key=label.key, written=label.written, rest=label.rest)
        rest = label.rest.strip()
        is_title = bool(rest) and (
            (label.emphasised and _title_clean(label.emphasised) == _title_clean(rest))
            or _heading_like(rest, next_is_break=next_is_break)
        )
        if label.kind == "numbered":
            path = self._path_claim(self._numbered_key(label))
            parent = self._numbered_parent(label)
            self.last_numbers = label.numbers
            self.anchor, self.anchor_kind = path, "numbered"
        elif label.kind == "part":
            path = self._path_claim(label.key)
            parent = None
            self.part = (path, 0)  # a part without "#" ends only where another begins
            self.last_numbers = None
            self.anchor, self.anchor_kind = path, "part"
        else:
            path = self._path_claim(f"{self.anchor}.{label.key}")
            parent = self.anchor
            self.last_letter[self.anchor] = label.key
        if is_title:
            heading, title_text, first = _title_clean(rest), rest, ""
        else:
            own = _title_clean(label.emphasised) if label.emphasised else _run_in_title(rest)
            heading, title_text, first = own, "", rest
        heading = heading or self._heading_inherited(parent)
        self.draft = self._draft_open(path, heading, title_text, label.written)
        self.draft.first = first
        self.container = path
        self.bullets = []
        self.previous_unterminated = bool(first) and not _terminated(first)
        self.previous_blank_or_heading = is_title

    def _ordered_list_item(self, label: _Label) -> bool:
        """Whether "1. Do not ..." under an unnumbered heading is a list item, not section 1.

        Only in a document without decimal subsections, where "1." cannot be a section
        that "1.1" will follow, and only for sentences, not titles like "1. Introduction".
        """
        return (
            self.anchor_kind == "slug"
            and not self.has_decimals
            and not _heading_like(label.rest, next_is_break=False)
        )

    def _bullet_open(self, indent_text: str, rest: str) -> None:
        self._draft_finish()
        indent = len(indent_text.expandtabs(4))
        while self.bullets and self.bullets[-1][0] > indent:
            self.bullets.pop()
        if self.bullets and self.bullets[-1][0] == indent:
            level = self.bullets[-1]
            level[1] += 1
        else:
            parent = self.bullets[-1][3] if self.bullets else self.container
            level = [indent, 1, parent, ""]
            self.bullets.append(level)
        path = self._path_claim(f"{level[2]}.{level[1]}")
        level[3] = path
        text, emphasised = _emphasis_unwrap(rest)
        heading = _title_clean(emphasised) if emphasised else ""
        heading = heading or self._heading_inherited(level[2])
        self.draft = self._draft_open(path, heading, "", "")
        self.draft.first = text
        self.draft.lead_path = level[2]
        self.previous_unterminated = not _terminated(text)
        self.previous_blank_or_heading = False

    # -- paths and headings

    def _numbered_key(self, label: _Label) -> str:
        """A number inside a part is cited with the part: "4." in Part D is D.4."""
        if self.part is None or label.key.startswith(self.part[0] + "."):
            return label.key
        if re.match(r"^[A-Z]\.", label.key):
            return label.key
        return f"{self.part[0]}.{label.key}"

    def _numbered_parent(self, label: _Label) -> str | None:
        key = self._numbered_key(label)
        if "." in key:
            candidate = key.rsplit(".", 1)[0]
            if candidate in self.headings:
                return candidate
        if self.part is not None:
            return self.part[0]
        return self.heading_stack[-1][1] if self.heading_stack else None

    def _heading_inherited(self, parent: str | None) -> str:
        return self.headings.get(parent, "") if parent else ""

    def _path_claim(self, path: str) -> str:
        candidate, count = path, 1
        while candidate in self.paths_used:
            count += 1
            candidate = f"{path}~{count}"
        self.paths_used.add(candidate)
        return candidate

    # -- clauses out

    def _draft_open(self, path: str, heading: str, title_text: str, label_text: str) -> _Draft:
        self.headings[path] = heading
        return _Draft(path=path, heading=heading, title_text=title_text, label_text=label_text)

    def _draft_finish(self) -> None:
        draft, self.draft = self.draft, None
        if draft is None:
            return
        body = "\n".join([draft.first, *draft.lines]).strip()
        lead_in, items = _items_split(body)
        if not (lead_in or draft.title_text or draft.label_text):
            # Nothing would be left to stand for the clause itself ("- (a) ...; (b) ..."),
            # so its items stay in its text rather than leave it empty.
            lead_in, items = body, []
        text = lead_in or draft.title_text or draft.label_text
        if draft.title:
            kind = kinds.TITLE
        elif draft.path == PREAMBLE_PATH:
            kind = kinds.PREAMBLE
        elif not lead_in:
            # Only its title or number stands for it: a heading over its items or clauses.
            kind = kinds.HEADING
        else:
            kind = kinds.DEFINITION if kinds.definition_like(text, draft.heading) else ""
        self.texts[draft.path] = text
        categories = {
            "": self._clause_add(
                draft.path,
                draft.heading,
                text,
                kind=kind,
                lead_in=self.texts.get(draft.lead_path, ""),
            )
        }
        texts = {"": text}
        for item in items:
            # "(e) use Output to develop competing models, including: (ii) fine-tuning on
            # Output": an item is read under the words it completes, and one with no
            # telling words of its own takes its parent's category.
            parent_suffix = item.suffix[: item.suffix.rfind("(")]
            texts[item.suffix] = item.text
            categories[item.suffix] = self._clause_add(
                self._path_claim(draft.path + item.suffix),
                draft.heading,
                item.text,
                lead_in=texts.get(parent_suffix, ""),
                parent_category=categories.get(parent_suffix, OTHER),
                kind=kinds.DEFINITION if kinds.definition_like(item.text, draft.heading) else "",
            )

    def _clause_add(
        self,
        path: str,
        heading: str,
        text: str,
        *,
        kind: str,
        lead_in: str = "",
        parent_category: str = OTHER,
    ) -> str:
        """Add a clause; `kind` is "" for text that is operative unless shown otherwise."""
        if kind:
            # Non-operative text forbids nothing, so it suggests no breach category.
            category = OTHER
        else:
            kind = kinds.OPERATIVE
            verdict = clause_category_weigh(text, heading, lead_in=lead_in)
            category = verdict.category
            if not verdict.telling and parent_category in BREACH_CATEGORIES:
                category = parent_category
        self.clauses.append(
            ParsedClause(
                path=path,
                heading=heading,
                text=text,
                category=category,
                position=len(self.clauses),
                kind=kind,
            )
        )
        return category
