"""Which parts of a Terms document are operative: the text a customer can breach.

Titles, headings and preambles are found by the parser from the document's structure;
definitions are found here from their wording. Non-operative text stays in the record
(the version's hash covers every word, and a definition is read with the clause that uses
it) but it is not offered as a clause to allege: "'API Key' means a credential ..."
forbids nothing, so conduct cannot breach it. Pure Python, no Django.
"""

from __future__ import annotations

import re

OPERATIVE = "operative"
TITLE = "title"
HEADING = "heading"
PREAMBLE = "preamble"
DEFINITION = "definition"
KINDS = (OPERATIVE, TITLE, HEADING, PREAMBLE, DEFINITION)

_QUOTE_OPEN = "\"'\u201c\u2018"
_QUOTE_CLOSE = "\"'\u201d\u2019"
_DEFINING_VERB = (
    r"(?:(?:each|both)\s+)?(?:means?|shall\s+mean|will\s+mean|refers?\s+to|shall\s+refer\s+to|"
    r"has\s+the\s+meaning|is\s+defined\s+as|includes?|shall\s+include)\b"
)
# An opening that only introduces where definitions apply: "As used in these Terms,",
# "In this Agreement,", "For the purposes of this Section,".
_SCOPE = r"(?:(?:as\s+used\s+(?:in|herein)|in|for\s+the\s+purposes?\s+of)\s+[^,:;.]{1,60},\s*)?"
_ARTICLE = r"(?:(?:the|a|an)\s+)?(?:terms?\s+)?"
# A quoted term: '"API Key" means', "\u201cOutput\u201d (and \u201cOutputs\u201d) refers to".
_QUOTED_TERM = re.compile(
    rf"^{_SCOPE}{_ARTICLE}[{_QUOTE_OPEN}][^{_QUOTE_CLOSE}\n]{{1,60}}[{_QUOTE_CLOSE}]"
    rf"(?:\s*(?:,|\((?:[^()]{{0,60}})\)|or|and|/)\s*"
    rf"(?:[{_QUOTE_OPEN}][^{_QUOTE_CLOSE}\n]{{1,60}}[{_QUOTE_CLOSE}])?)*,?\s*{_DEFINING_VERB}",
    re.IGNORECASE,
)
# Under a Definitions heading the term may stand unquoted: "Account means the account ...".
_BARE_TERM = re.compile(
    rf"^{_SCOPE}{_ARTICLE}[A-Z][\w\u2019'/-]*(?:\s+[A-Z][\w\u2019'/-]*){{0,5}},?\s+{_DEFINING_VERB}"
)
_DEFINITIONS_HEADING = re.compile(r"\b(?:definitions?|defined\s+terms|interpretation)\b", re.I)


def _plain(text: str) -> str:
    """The words without emphasis marks and with single spaces, as a reader sees them."""
    return " ".join(re.sub(r"[*_`]+", "", text).split())


def definition_like(text: str, heading: str = "") -> bool:
    """Whether a clause's text defines a term rather than stating a duty or a right.

    A quoted term followed by "means" (or "refers to", "includes", "has the meaning")
    is a definition wherever it stands; under a Definitions heading an unquoted term is
    too, and so is a lead-in such as "In this Agreement:" that opens a list of them.
    """
    plain = _plain(text)
    if _QUOTED_TERM.match(plain):
        return True
    if heading and _DEFINITIONS_HEADING.search(heading):
        return bool(_BARE_TERM.match(plain)) or (len(plain) <= 120 and plain.endswith(":"))
    return False
