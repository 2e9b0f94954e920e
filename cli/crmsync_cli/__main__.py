"""`crmsync COMMAND`: the command line (`python -m crmsync_cli` runs it too).

    crmsync --local status                  the local stack (`make local`)
    crmsync --url https://<api-id>.execute-api.<region>.amazonaws.com status
    crmsync --local errors --category validation
    crmsync --local why 00Q8d0000000004EAA

`--url` is a deployed stack's `HttpApiUrl` output (or `CRMSYNC_URL`); every request is signed
with your AWS credentials (the caller needs `execute-api:Invoke` on the API). `--json` prints
the route's JSON and nothing else, for scripts.

Exit status: 0 done (for `status`: healthy), 1 refused by the connector or by the local checks
(for `status`: not healthy), 2 not sent (no credentials, nothing answering, an unreadable file).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence

from botocore.credentials import Credentials

from crmsync_cli import __version__
from crmsync_cli.client import (
    ConnectorApi,
    NotSent,
    Refused,
    Send,
    local_api,
    send_over_http,
    signed_api,
)
from crmsync_cli.commands import COMMANDS
from crmsync_cli.context import Context
from crmsync_cli.output import NOT_SENT, REFUSED, Output

URL_VARIABLE = "CRMSYNC_URL"


def parser() -> argparse.ArgumentParser:
    # The options every command takes, before or after its name (`crmsync --json status`,
    # `crmsync status --json`). None has a default (SUPPRESS): a subcommand's default would
    # overwrite what was given before its name. `options` fills in what was not given. (Not
    # `set_defaults` on the top parser: it sets the default of the actions the subcommands
    # share through `parents` too.)
    common = argparse.ArgumentParser(add_help=False)
    target = common.add_argument_group("where the connector is")
    where = target.add_mutually_exclusive_group()
    where.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help=f"a deployed stack's HttpApiUrl output (or set {URL_VARIABLE}); requests are signed with SigV4",
    )
    where.add_argument(
        "--local",
        action="store_true",
        default=argparse.SUPPRESS,
        help="the local stack `make local` runs (its address is in .local/stack.json)",
    )
    target.add_argument(
        "--region", default=argparse.SUPPRESS, help="the API's region (default: the one in --url)"
    )
    target.add_argument(
        "--profile", default=argparse.SUPPRESS, help="the AWS profile to sign with (default chain)"
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the route's JSON answer and nothing else",
    )

    top = argparse.ArgumentParser(
        prog="crmsync",
        description="Operate a crmsync connector: its health, errors, record histories, manual syncs.",
        parents=[common],
        epilog="Exit status: 0 done (status: healthy), 1 refused or unhealthy, 2 not sent or unreachable.",
    )
    top.add_argument("--version", action="version", version=f"crmsync {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add(commands, common)
    return top


COMMON_DEFAULTS = {"url": None, "local": False, "region": None, "profile": None, "json": False}


def options(args: argparse.Namespace) -> argparse.Namespace:
    """`args` with the common options that were not given set to their defaults."""
    for name, default in COMMON_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    return args


def main(
    argv: Sequence[str] | None = None,
    *,
    send: Send = send_over_http,
    credentials: Credentials | None = None,
    output: Output | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run one command and answer its exit status. Tests replace `send` (how requests go),
    `credentials` (default: the default chain), `output` and `sleep`."""
    args = options(parser().parse_args(argv))
    out = output or Output()
    out.json = bool(args.json)

    def connect() -> ConnectorApi:
        if args.local and args.url:
            raise NotSent("give --local or --url, not both")
        if args.local:
            return local_api(send=send)
        url = args.url or os.environ.get(URL_VARIABLE)
        if not url:
            raise NotSent(f"say which connector: --local, or --url with its HttpApiUrl (or {URL_VARIABLE})")
        return signed_api(url, region=args.region, profile=args.profile, send=send, credentials=credentials)

    context = Context(out, connect, sleep=sleep, interactive=out.out.is_terminal and not out.json)
    try:
        code: int = args.run(args, context)
    except NotSent as exc:
        out.problems(str(exc))
        return NOT_SENT
    except Refused as exc:
        print_refusal(exc, context, out)
        return REFUSED
    except KeyboardInterrupt:
        out.problems("interrupted")
        return NOT_SENT
    return code


def print_refusal(refusal: Refused, context: Context, out: Output) -> None:
    answer = refusal.answer
    api = context.api  # made already: the refusal came from it
    if answer.status == 404 and answer.message == "Not Found":
        # API Gateway's own answer (and the local stack's) for a route the stack does not have.
        upgrade = "restart it: `make local-stop local`" if api.local else "deploy the current version"
        out.problems(
            f"the connector at {api.url} does not have this route: it is older than this command ({upgrade})"
        )
        return
    if answer.status == 403 and not api.local:
        out.problems(
            f"refused (403): {answer.message or 'Forbidden'}",
            [
                "AWS refused the signed request: check that your credentials are current, that "
                "--region is the API's, and that you may call execute-api:Invoke on it"
            ],
        )
        return
    out.problems(f"refused ({answer.status}): {answer.message or 'no reason given'}", answer.problems)


if __name__ == "__main__":
    sys.exit(main())
