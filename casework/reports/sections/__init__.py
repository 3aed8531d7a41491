"""The report's sections, one module each, read from the snapshot by `context.report_context`."""

from casework.reports.sections.chronology import chronology_section
from casework.reports.sections.clauses import clauses_section
from casework.reports.sections.countermeasures import countermeasures_section
from casework.reports.sections.damages import damages_section
from casework.reports.sections.elements import elements_section
from casework.reports.sections.formation import formation_section
from casework.reports.sections.formatting import (
    BASIS_LABELS,
    CATEGORY_LABELS,
    Capped,
    day,
    moment,
    money,
    n,
    ratio,
    share,
)
from casework.reports.sections.methodology import methodology_section
from casework.reports.sections.output_use import output_use_section
from casework.reports.sections.parties import parties_section
from casework.reports.sections.preservation import preservation_section
from casework.reports.sections.source import Source
from casework.reports.sections.statistics import statistics_section
from casework.reports.sections.summary import summary_section

__all__ = (
    "BASIS_LABELS",
    "CATEGORY_LABELS",
    "Capped",
    "Source",
    "chronology_section",
    "clauses_section",
    "countermeasures_section",
    "damages_section",
    "day",
    "elements_section",
    "formation_section",
    "methodology_section",
    "moment",
    "money",
    "n",
    "output_use_section",
    "parties_section",
    "preservation_section",
    "ratio",
    "share",
    "statistics_section",
    "summary_section",
)
