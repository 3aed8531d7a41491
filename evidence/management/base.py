"""The one base of Pacta's management commands: the command-line contract in one place.

DESIGN.md promises operators and their scripts: `--json` prints one JSON document on
stdout; the exit status is 0 on success, 1 when a check fails (tampering found, a strict
ingest refused) and 2 on usage errors; errors name the argument or line at fault. A
command subclasses `PactaCommand`, declares its own arguments in `arguments`, does its
work in `run` by calling one service, and reports through `done` (or raises one of the
two errors below); it never calls `sys.exit` or prints JSON itself. Text printed as the
work goes (ingest reports each file as it is done) goes through `say`.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

# Exit statuses of the command-line contract.
EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(CommandError):
    """The operator asked for something that cannot be done as asked (exit 2).

    The message names the argument at fault first: "CASE_REF X-1: no such case".
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, returncode=EXIT_USAGE)


class CheckFailed(CommandError):
    """The command ran and its check failed: tampering found, a strict ingest refused (exit 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, returncode=EXIT_CHECK_FAILED)


class PactaCommand(BaseCommand):
    """`--json`, the exit statuses 0/1/2 and the error format, for every Pacta command.

    `skip_checks = True` marks an operational command run case after case or on a schedule
    (ingest, detect, build_report): Django's system checks (models, settings, every URL's
    view imported) run at deploy with `check --deploy` and in the test suite, and would add
    about a second to every run.
    """

    skip_checks = False
    json_help = "Print one JSON document."
    # `None` prints the document on one line, as detect always has printed its report.
    json_indent: int | None = 2

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.skip_checks:
            cls.requires_system_checks = []

    def add_arguments(self, parser) -> None:
        self.arguments(parser)
        parser.add_argument("--json", action="store_true", help=self.json_help)

    def arguments(self, parser) -> None:
        """The command's own arguments (`--json` is added for every command)."""

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except (UsageError, CheckFailed) as exc:
            # Django prints an error as "<class name>: <message>"; operators' scripts have
            # always read "CommandError: <message>", so both kinds leave under that name.
            raise CommandError(str(exc), returncode=exc.returncode) from exc

    def handle(self, *args, **options) -> None:
        self.json_mode = bool(options.get("json"))
        self.run(**options)

    def run(self, **options) -> None:
        raise NotImplementedError

    def done(self, document: Any, *, text: str | list[str] = "", ok: bool = True) -> None:
        """Report the outcome: the JSON document under `--json`, else the text lines.

        `ok=False` is a failed check: the outcome is still printed in full (the operator
        needs to see what failed), then the command exits 1.
        """
        if self.json_mode:
            self.stdout.write(json.dumps(document, indent=self.json_indent, cls=DjangoJSONEncoder))
        else:
            self.say(text)
        if not ok:
            raise SystemExit(EXIT_CHECK_FAILED)

    def say(self, text: str | list[str], *, stderr: bool = False) -> None:
        """Print text lines (empty ones skipped) in text mode; nothing under `--json`.

        `stderr=True` is for what is not the outcome itself: why a build failed.
        """
        if self.json_mode:
            return
        stream = self.stderr if stderr else self.stdout
        for line in [text] if isinstance(text, str) else text:
            if line:
                stream.write(line)

    def usage_error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def check_failed(self, message: str) -> NoReturn:
        raise CheckFailed(message)
