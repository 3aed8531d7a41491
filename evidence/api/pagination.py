"""The page of a list endpoint: `?limit=&offset=` with `{count, next, previous, results}`
(the usage events, too many for counting, page by cursor in `evidence.api.usage_events`).
"""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination

from evidence.api.parameters import query_int


class RecordPagination(LimitOffsetPagination):
    """`?limit=&offset=` with `{count, next, previous, results}`; bad values are refused."""

    default_limit = 50
    max_limit = 500
    max_offset = 2**31 - 1

    def get_limit(self, request) -> int:
        return query_int(
            request,
            self.limit_query_param,
            default=self.default_limit,
            minimum=1,
            maximum=self.max_limit,
        )

    def get_offset(self, request) -> int:
        return query_int(request, self.offset_query_param, default=0, maximum=self.max_offset)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit},
            self.offset_query_param: {"minimum": 0, "maximum": self.max_offset},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds[parameter["name"]])
        return parameters
