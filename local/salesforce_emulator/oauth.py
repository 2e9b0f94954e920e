"""The OAuth 2.0 token endpoint (JWT bearer, client credentials, password grants) and the
access tokens it hands out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509

from .clock import Clock

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SALESFORCE_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


@dataclass(frozen=True)
class ConnectedApp:
    client_id: str
    client_secret: str | None
    certificate_pem: str | None
    run_as: str | None  # username the client credentials flow acts as


@dataclass(frozen=True)
class Login:
    user_id: str
    username: str
    password: str | None
    security_token: str
    is_active: bool


@dataclass(frozen=True)
class Session:
    user_id: str
    client_id: str


class OAuthRefusal(Exception):
    """A refused token request: 400 with `{"error", "error_description"}` as Salesforce sends
    (Salesforce Help, "OAuth 2.0 Authorization Errors": the JWT bearer flow answers a standard
    OAuth error response, RFC 7523; a key or certificate that does not match, an unknown or
    inactive user, a wrong password all answer `invalid_grant`)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.body = {"error": error, "error_description": description}


class OAuth:
    def __init__(self, clock: Clock, org_id: str) -> None:
        self._clock = clock
        self._org_id = org_id
        self._apps: dict[str, ConnectedApp] = {}
        self._logins: dict[str, Login] = {}
        self._sessions: dict[str, Session] = {}
        self._first_login: Login | None = None

    def register_app(self, app: ConnectedApp) -> None:
        self._apps[app.client_id] = app

    def register_login(self, login: Login) -> None:
        self._logins[login.username.lower()] = login
        self._first_login = self._first_login or login

    def session(self, access_token: str) -> Session | None:
        return self._sessions.get(access_token)

    def expire_all(self) -> None:
        self._sessions.clear()

    def token(
        self, form: Mapping[str, str], *, login_url: str, instance_url: str, audiences: tuple[str, ...]
    ) -> dict[str, Any]:
        """The token response for one request to /services/oauth2/token, or OAuthRefusal."""
        grant = form.get("grant_type", "")
        if grant == JWT_BEARER:
            app, login = self._jwt_bearer(form.get("assertion", ""), audiences)
        elif grant == "client_credentials":
            app = self._authenticated_app(form)
            login = self._client_credentials_user(app)
        elif grant == "password":
            app = self._authenticated_app(form)
            login = self._password_user(form)
        else:
            raise OAuthRefusal("unsupported_grant_type", "grant type not supported")
        return self._issue(app, login, login_url=login_url, instance_url=instance_url)

    def _app(self, client_id: str) -> ConnectedApp:
        app = self._apps.get(client_id)
        if app is None:
            raise OAuthRefusal("invalid_client_id", "client identifier invalid")
        return app

    def _authenticated_app(self, form: Mapping[str, str]) -> ConnectedApp:
        app = self._app(form.get("client_id", ""))
        secret = form.get("client_secret", "")
        if app.client_secret is None or not hmac.compare_digest(app.client_secret, secret):
            raise OAuthRefusal("invalid_client", "invalid client credentials")
        return app

    def _jwt_bearer(self, assertion: str, audiences: tuple[str, ...]) -> tuple[ConnectedApp, Login]:
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.InvalidTokenError as exc:
            raise OAuthRefusal("invalid_grant", "invalid assertion") from exc
        app = self._app(str(unverified.get("iss", "")))
        if app.certificate_pem is None:
            raise OAuthRefusal("invalid_client", "invalid client credentials")
        public_key = x509.load_pem_x509_certificate(app.certificate_pem.encode()).public_key()
        try:
            claims = jwt.decode(
                assertion,
                public_key,  # type: ignore[arg-type]
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_aud": False, "require": ["iss", "sub", "aud", "exp"]},
            )
        except jwt.InvalidTokenError as exc:
            raise OAuthRefusal("invalid_grant", "invalid assertion") from exc
        audience = claims["aud"]
        if not set(audience if isinstance(audience, list) else [audience]) & set(audiences):
            raise OAuthRefusal("invalid_grant", "audience is invalid")
        # The emulator's clock, not the machine's, decides whether the assertion has expired.
        if float(claims["exp"]) <= self._clock().timestamp():
            raise OAuthRefusal("invalid_grant", "invalid assertion")
        login = self._logins.get(str(claims["sub"]).lower())
        if login is None:
            raise OAuthRefusal("invalid_grant", "user hasn't approved this consumer")
        if not login.is_active:
            raise OAuthRefusal("invalid_grant", "inactive user")
        return app, login

    def _client_credentials_user(self, app: ConnectedApp) -> Login:
        login = self._logins.get(app.run_as.lower()) if app.run_as else self._first_login
        if login is None:
            raise OAuthRefusal("invalid_grant", "no client credentials user enabled")
        return login

    def _password_user(self, form: Mapping[str, str]) -> Login:
        login = self._logins.get(form.get("username", "").lower())
        if login is None or login.password is None or not login.is_active:
            raise OAuthRefusal("invalid_grant", "authentication failure")
        expected = login.password + login.security_token
        if not hmac.compare_digest(expected, form.get("password", "")):
            raise OAuthRefusal("invalid_grant", "authentication failure")
        return login

    def _issue(self, app: ConnectedApp, login: Login, *, login_url: str, instance_url: str) -> dict[str, Any]:
        access_token = f"{self._org_id[:15]}!AQ{secrets.token_urlsafe(72)}"
        self._sessions[access_token] = Session(user_id=login.user_id, client_id=app.client_id)
        issued_at = str(int(self._clock().timestamp() * 1000))
        identity = f"{login_url}/id/{self._org_id}/{login.user_id}"
        key = (app.client_secret or app.client_id).encode()
        signature = base64.b64encode(hmac.new(key, (identity + issued_at).encode(), hashlib.sha256).digest())
        return {
            "access_token": access_token,
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": signature.decode(),
            "scope": "api",
        }
