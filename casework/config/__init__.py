"""Project configuration: settings, URL roots, the Celery app, WSGI and the embedded
PostgreSQL backend that `make demo` and `make test` use when no server is named."""
