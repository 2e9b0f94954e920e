"""Logging in through the OAuth 2.0 token endpoint of a configurable login URL.

Three grants are supported: JWT bearer (recommended), client credentials, and username +
password + security token (the OAuth password grant; SOAP `login()` is being retired). A login
refused for its credentials reads the secret afresh and tries once more (`login_with_secret`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import urlparse

import jwt
import requests

from crmsync.domain.errors import ConfigurationError, CrmError, ErrorCategory, Failure

GrantType = Literal["jwt", "client_credentials", "password"]
_REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "jwt": ("login_url", "client_id", "username", "private_key"),
    "client_credentials": ("login_url", "client_id", "client_secret"),
    "password": ("login_url", "client_id", "client_secret", "username", "password"),
}
_SALESFORCE_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
JWT_LIFETIME_SECONDS = 180
DEFAULT_API_VERSION = "62.0"


@dataclass(frozen=True)
class SalesforceCredentials:
    """The JSON document kept in Secrets Manager (its format is in the README)."""

    auth: GrantType
    login_url: str
    client_id: str
    username: str | None = field(default=None, repr=False)  # personal data: kept out of logs
    private_key: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    security_token: str = field(default="", repr=False)
    audience: str | None = None
    api_version: str = DEFAULT_API_VERSION

    @classmethod
    def from_secret(cls, document: Mapping[str, Any]) -> SalesforceCredentials:
        """Validate the secret, naming the bad entry and never echoing a secret value."""
        auth = document.get("auth")
        if auth not in _REQUIRED_KEYS:
            raise ConfigurationError(
                f"Salesforce secret: 'auth' must be one of {', '.join(_REQUIRED_KEYS)}, not {auth!r}"
            )
        missing = [key for key in _REQUIRED_KEYS[auth] if not document.get(key)]
        if missing:
            raise ConfigurationError(f"Salesforce secret: '{auth}' login needs {', '.join(missing)}")
        login_url = str(document["login_url"]).rstrip("/")
        if urlparse(login_url).scheme != "https":
            raise ConfigurationError(
                f"Salesforce secret: 'login_url' must be an https URL, not {login_url!r}"
            )
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(document) - known)
        if unknown:
            raise ConfigurationError(f"Salesforce secret: unknown keys {', '.join(unknown)}")
        values = {key: document[key] for key in known if document.get(key) is not None}
        values["login_url"] = login_url
        return cls(**values)

    def jwt_audience(self) -> str:
        if self.audience:
            return self.audience
        if self.login_url in _SALESFORCE_AUDIENCES:
            return self.login_url
        # A My Domain login URL still expects the production (or sandbox) login host as audience.
        host = urlparse(self.login_url).hostname or ""
        return _SALESFORCE_AUDIENCES[1] if ".sandbox." in host else _SALESFORCE_AUDIENCES[0]


@dataclass(frozen=True)
class AccessToken:
    access_token: str = field(repr=False)
    instance_url: str


class LoginRefused(CrmError):
    """Salesforce's token endpoint refused the login; `oauth_error` is its OAuth error code."""

    def __init__(self, oauth_error: str, failure: Failure) -> None:
        super().__init__(failure)
        self.oauth_error = oauth_error


def _token_request_body(credentials: SalesforceCredentials, now: float) -> dict[str, str]:
    if credentials.auth == "jwt":
        claims = {
            "iss": credentials.client_id,
            "sub": credentials.username,
            "aud": credentials.jwt_audience(),
            "exp": int(now) + JWT_LIFETIME_SECONDS,
        }
        try:
            assertion = jwt.encode(claims, cast(str, credentials.private_key), algorithm="RS256")
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"Salesforce secret: 'private_key' is not a usable RSA key ({exc})"
            ) from exc
        return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    if credentials.auth == "client_credentials":
        return {
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": cast(str, credentials.client_secret),
        }
    return {
        "grant_type": "password",
        "client_id": credentials.client_id,
        "client_secret": cast(str, credentials.client_secret),
        "username": cast(str, credentials.username),
        "password": f"{credentials.password}{credentials.security_token}",
    }


def request_token(
    session: requests.Session,
    credentials: SalesforceCredentials,
    *,
    timeout: float | tuple[float, float],
    clock: Callable[[], float] = time.time,
) -> AccessToken:
    """One call to the token endpoint; a refusal is a configuration error with Salesforce's reason."""
    url = f"{credentials.login_url}/services/oauth2/token"
    body = _token_request_body(credentials, clock())
    try:
        response = session.post(url, data=body, headers={"Accept": "application/json"}, timeout=timeout)
    except requests.Timeout as exc:
        raise CrmError(Failure.of("TIMEOUT", f"Salesforce login at {url} timed out")) from exc
    except requests.ConnectionError as exc:
        raise CrmError(
            Failure.of("CONNECTION_ERROR", f"cannot reach Salesforce login at {url}: {exc}")
        ) from exc
    if response.status_code >= 500:
        raise CrmError(
            Failure.of(f"HTTP_{response.status_code}", f"Salesforce login at {url} failed", http_status=500)
        )
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if response.status_code != 200 or "access_token" not in payload:
        error = str(payload.get("error") or response.status_code)
        # The message goes to the error list, the logs and the status answer: it names the grant
        # and the login URL an operator checks, never the integration user (personal data, kept
        # in the secret), not even where Salesforce's reason echoes it.
        reason = str(payload.get("error_description") or payload.get("error") or response.text[:200])
        if credentials.username:
            reason = reason.replace(credentials.username, "<the secret's username>")
        raise LoginRefused(
            error,
            Failure(
                code="AUTHENTICATION_FAILED",
                message=(
                    f"Salesforce refused the {credentials.auth} login of the secret's user at "
                    f"{credentials.login_url}: {error}: {reason}"
                ),
                category=ErrorCategory.CONFIGURATION,
            ),
        )
    return AccessToken(access_token=payload["access_token"], instance_url=payload["instance_url"].rstrip("/"))


CREDENTIALS_REFUSED = frozenset({"invalid_grant", "invalid_client", "invalid_client_id"})
"""OAuth errors that refuse the credentials themselves (a key, certificate, user, password,
client secret or consumer key that no longer matches the org): a rotated secret cures them."""


def login_with_secret(
    read_credentials: Callable[[bool], SalesforceCredentials],
    *,
    timeout: float | tuple[float, float],
    clock: Callable[[], float] = time.time,
) -> Callable[[requests.Session], AccessToken]:
    """A login with the credentials `read_credentials(fresh)` gives; the secret behind it is
    cached (`fresh=False`), so a login refused for its credentials reads the secret again
    (`fresh=True`) and, when it changed, tries once more: credentials rotated a moment ago are
    used at once rather than once the cache lapses."""

    def login(session: requests.Session) -> AccessToken:
        credentials = read_credentials(False)
        try:
            return request_token(session, credentials, timeout=timeout, clock=clock)
        except LoginRefused as refused:
            if refused.oauth_error not in CREDENTIALS_REFUSED:
                raise
            rotated = read_credentials(True)
            if rotated == credentials:
                raise
            return request_token(session, rotated, timeout=timeout, clock=clock)

    return login
