"""The case API's elements checklist (issue #18): every allegation's elements and flags,
and the case's flags, read live by the rule the report applies to its snapshot. Split
from `casework.api` for the module size; the same access rules (`_case`: a case's members
only) apply."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from casework.api import _case
from casework.elements_live import case_elements
from casework.serializers_elements import CaseChecklistSerializer
from evidence.api import api_errors


@extend_schema(tags=["cases"], responses={200: CaseChecklistSerializer, **api_errors(404)})
class CaseElementsView(APIView):
    """The case's elements checklist: for each allegation, the six elements (formation,
    version in force, conduct, attribution, use of the outputs, damages), each supported,
    partly supported or not supported with the exhibit rows behind it; the allegation's
    flags; and the flags on the case's accounts."""

    required_scopes = "read"

    def get(self, request, reference: str) -> Response:
        case = _case(request, reference)
        return Response(case_elements(user=request.user, case=case))
