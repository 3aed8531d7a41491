"""The record's REST API (/api/v1/): read the record (batches, accounts, usage events,
clusters, findings, Terms and clauses, verification), upload files to ingest and record
investigators' confirmed labels, one module per resource, and the toolkit both apps' APIs
are written with (the error shape, strict fields, pagination).

The upload (`ingest`) calls the ingest service exactly as `manage.py ingest` does; the
ingest package itself knows nothing of HTTP. Access (tokens, scopes,
throttles) and the rendering of errors are the project's defaults
(`casework.api_platform`); views here only state what they require. Who may read what is
decided by `evidence.selectors`: the raw record only for record readers (internal roles),
the Terms for every signed-in user. Every response a view can give is declared for the
OpenAPI schema (/api/schema/), errors included.

Re-exported here: the toolkit the case side's API builds on.
"""

from evidence.api.errors import (
    COMMON_ERRORS,
    ERROR_MEANINGS,
    ApiErrorDetailSerializer,
    ApiErrorSerializer,
    api_errors,
    bad_parameter,
)
from evidence.api.fields import (
    QueryBooleanField,
    QueryIntegerField,
    QueryTextField,
    Rfc3339Field,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
)
from evidence.api.pagination import RecordPagination
from evidence.api.parameters import MAX_ID, TextConverter, query_parameters

__all__ = [
    "COMMON_ERRORS",
    "ERROR_MEANINGS",
    "MAX_ID",
    "ApiErrorDetailSerializer",
    "ApiErrorSerializer",
    "QueryBooleanField",
    "QueryIntegerField",
    "QueryTextField",
    "RecordPagination",
    "Rfc3339Field",
    "StrictBooleanField",
    "StrictCharField",
    "StrictIntegerField",
    "TextConverter",
    "api_errors",
    "bad_parameter",
    "query_parameters",
]
