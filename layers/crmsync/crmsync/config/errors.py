"""What refuses a configuration: its own problems (`InvalidConfiguration`, every one by its
path), a version not above the one in force, a size the store cannot hold."""

from __future__ import annotations

from collections.abc import Sequence

from crmsync.domain.errors import ConfigurationError


class InvalidConfiguration(ConfigurationError):
    """Every problem found in a configuration, each naming its entry."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            listed = "\n".join(f"- {problem}" for problem in self.problems)
            message = f"{len(self.problems)} problems in the configuration:\n{listed}"
        super().__init__(message)


class StaleConfigurationVersion(ConfigurationError):
    """A configuration whose version is not above the one in force: versions only go up, so
    the status always says which document the connector runs, and an older copy pushed by
    mistake cannot replace a newer one."""

    def __init__(self, offered: int, current: int) -> None:
        self.offered = offered
        self.current = current
        super().__init__(
            f"version: {offered} is not newer than the configuration in force (version {current}); "
            f"raise it above {current}"
        )


class ConfigurationTooLarge(ConfigurationError):
    """A configuration the store cannot hold: each version is kept whole in one DynamoDB item,
    and an item holds at most 400 KB."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"configuration: is {size:,} bytes as stored (compact JSON, UTF-8); at most {limit:,} "
            "bytes are accepted (DynamoDB's 400 KB item limit, less the version and timestamps "
            "kept beside it): shorten it, for example its comments"
        )
