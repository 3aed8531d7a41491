"""Exhibit cells a spreadsheet would run as formulas, written so that it shows them as text.

A usage log or an account profile holds whatever a customer sent: a prompt, a user agent
or an organisation name that begins `=HYPERLINK(...)` becomes a live formula when the
other side's expert opens the CSV exhibit in a spreadsheet (OWASP, "CSV Injection"). Such
a cell is written with a leading single quote, OWASP's recommendation, which spreadsheets
take as "this is text". The rule is applied to text cells only: the numbers the report
computes stay numbers, and a negative total is still a number. The exhibit's SHA-256 is
taken over the bytes as written, quote included, and the report says so
(`FORMULA_NOTE`), so nobody mistakes the quote for the record's.
"""

from __future__ import annotations

from psycopg import sql

# The first characters OWASP lists as starting a formula (tab and carriage return included:
# some spreadsheets skip them and read the formula that follows).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_MARK = "'"

FORMULA_NOTE = (
    "In the CSV exhibits, a text cell from the record that begins with =, +, -, @, a tab or "
    "a carriage return is written with a single quote (') before it, as the OWASP guidance "
    "on CSV injection recommends, so that a spreadsheet shows it as text instead of running "
    "it as a formula: that quote is Pacta's, not the record's, and each exhibit's SHA-256 "
    "covers the file as written, quote included."
)


def cell_neutralise(value):
    """A cell as an exhibit writes it: text that would start a formula gets the mark;
    numbers, booleans and empty cells are written as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return FORMULA_MARK + value
    return value


def sql_neutralised(expression: str, name: str = "") -> sql.Composed:
    """The same rule in SQL, for a text column an exhibit streams with `COPY` (those rows
    never pass through Python), named `name` or else as the column it reads. `expression`
    is trusted SQL of the exhibit's own query; NULL stays NULL (an empty cell).

    The first character is compared by its code (`ascii`, 0 for an empty cell): measured
    on a million usage rows, half the added cost of comparing `left(x, 1)` as text.
    """
    return sql.SQL(
        "CASE WHEN ascii({e}) IN ({codes}) THEN {mark} || {e} ELSE {e} END AS {name}"
    ).format(
        e=sql.SQL(expression),
        codes=sql.SQL(", ").join(sql.Literal(ord(c)) for c in FORMULA_TRIGGERS),
        mark=sql.Literal(FORMULA_MARK),
        name=sql.Identifier(name or expression.rpartition(".")[2]),
    )
