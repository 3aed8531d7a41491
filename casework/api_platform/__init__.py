"""The API platform both apps' REST APIs stand on: token authentication, scopes and
throttles (`auth`), issuing and revoking tokens (`tokens`), the one error document and
the exception handler that renders it (`errors`), the OpenAPI schema and its
documentation (`schema`), and the URL map of everything under /api/ (`urls`).

Nothing is re-exported here, on purpose: DRF imports `auth` by its dotted path from the
settings while `rest_framework.views` is itself still loading, so this package must not
import modules (`errors`, `schema`) that import `rest_framework.views` in turn. Import
from the modules.
"""
