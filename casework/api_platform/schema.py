"""The OpenAPI schema of both apps' APIs (/api/schema/) and its Swagger UI (/api/docs/):
how tokens are declared in it, and the token scope each operation says it needs.
"""

from __future__ import annotations

from csp.constants import NONCE
from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from casework.api_platform.auth import ScopePermission, required_scope


class ScopedTokenScheme(OpenApiAuthenticationExtension):
    target_class = "casework.api_platform.auth.ScopedTokenAuthentication"
    name = "token"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "`pacta_...` tokens from `manage.py issue_token`, with scopes: "
            "`ingest` (may only ingest), `read` (GET), `write` (POST).",
        }


def schema_scope_notes(result, generator, request, public):
    """drf-spectacular hook: each operation's text ends with the token scope it requires,
    read from the view's `required_scopes`, so the documentation cannot drift from it."""
    for path, _regex, method, callback in generator.endpoints:
        view = generator.create_view(callback, method)
        path_item = result["paths"].get(generator.coerce_path(path, method, view), {})
        operation = path_item.get(method.lower())
        if operation is None:
            continue
        needed = required_scope(view, method)
        note = f"Token scope: `{needed}`." if needed else "API tokens are not accepted here."
        operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
    return result


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema (YAML by default; JSON with `Accept: application/json`).

    Public, like any published API description: it names no object and grants nothing.
    """

    permission_classes = [ScopePermission]
    required_scopes = "read"


# Swagger UI's page has one inline style and one inline script (named by the nonce in
# templates/drf_spectacular/swagger_ui.html), and its stylesheet draws icons as data: URIs.
@method_decorator(
    csp_update({"script-src": NONCE, "style-src": NONCE, "img-src": "data:"}), name="get"
)
class DocsView(SpectacularSwaggerView):
    """Swagger UI over the schema, served with the app's own static files (no CDN)."""

    permission_classes = [ScopePermission]
    required_scopes = "read"
