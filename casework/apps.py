from django.apps import AppConfig


class CaseworkConfig(AppConfig):
    name = "casework"
    verbose_name = "Casework"

    def ready(self) -> None:
        # Countermeasures keep their models in their own package, whose services import
        # `casework.models`; so Django registers them here rather than through that module.
        from casework.countermeasures import models  # noqa: F401
