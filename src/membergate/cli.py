"""The `membergate` command.

Every sub-command is a Django management command of one of Membergate's
apps; `membergate manage ARGS` reaches all of Django's own.
"""

import os
import sys

from django.core.exceptions import ImproperlyConfigured

USAGE = """usage: membergate COMMAND [ARGS...]

commands:
  serve [--host H] [--port P]     run the service (HTTP server and worker)
  worker                          run a background worker alone
  apikey create --name NAME       create an API key and print it
  apikey list | apikey revoke NAME
  membership create --title T     create a membership and print its id
  membership list
  backup PATH | restore PATH      copy the embedded database out or back
  manage ARGS...                  Django's management commands
"""

COMMANDS = {"serve", "worker", "apikey", "membership", "backup", "restore"}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "membergate.settings")
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    command, rest = args[0], args[1:]
    if command == "manage":
        django_args = rest
    elif command in COMMANDS:
        django_args = [command, *rest]
    else:
        print(
            f"membergate: unknown command {command!r}\n\n{USAGE}",
            file=sys.stderr,
            end="",
        )
        return 2

    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(["membergate", *django_args])
    except ImproperlyConfigured as exc:
        print(f"membergate: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
