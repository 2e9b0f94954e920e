"""crmsync: operate a crmsync connector from the command line (`crmsync --help`).

One command per question an operator asks (is it healthy, what failed, why does this record
look like this, sync it now), talking to the connector's HTTP API: a deployed stack's (`--url`,
signed with your AWS credentials) or the local stack `make local` runs (`--local`). Tables for
people, `--json` for scripts.

The package is not part of the Lambda layer; it reads configuration files with the connector's
own readers (`crmsync.config`, `crmsync.json_input`).
"""

from crmsync import __version__

__all__ = ["__version__"]
