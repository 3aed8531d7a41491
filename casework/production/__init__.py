"""Productions: a case's report as a court filing copy (PDF/A-2b, no attachments, within a
per-file limit) with its records as control-numbered natives, a Concordance load file and a
signed manifest. `build.production_build` writes one, `verify.production_verify` checks it;
`manage.py build_production` and `verify_production` call them."""

from casework.production.build import Production, ProductionError, production_build
from casework.production.verify import production_verify

__all__ = ("Production", "ProductionError", "production_build", "production_verify")
