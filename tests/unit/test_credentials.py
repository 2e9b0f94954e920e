"""The Salesforce secret is checked up front, with messages that name the bad entry."""

import pytest
from crmsync.domain.errors import ConfigurationError
from crmsync.salesforce.auth import SalesforceCredentials
from crmsync.salesforce.gateway import _bulk_failure


def test_a_complete_jwt_secret_is_accepted_and_its_key_never_printed() -> None:
    credentials = SalesforceCredentials.from_secret(
        {
            "auth": "jwt",
            "login_url": "https://login.salesforce.com/",
            "client_id": "3MVG9-connected-app",
            "username": "integration@acme.example",
            "private_key": "-----BEGIN PRIVATE KEY-----secret-----END PRIVATE KEY-----",
        }
    )
    assert credentials.login_url == "https://login.salesforce.com"
    assert credentials.jwt_audience() == "https://login.salesforce.com"
    assert "secret" not in repr(credentials)


def test_a_my_domain_login_url_still_uses_the_salesforce_login_audience() -> None:
    credentials = SalesforceCredentials.from_secret(
        {
            "auth": "jwt",
            "login_url": "https://acme.my.salesforce.com",
            "client_id": "c",
            "username": "u",
            "private_key": "k",
        }
    )
    assert credentials.jwt_audience() == "https://login.salesforce.com"


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ({"auth": "saml"}, "'auth' must be one of jwt, client_credentials, password"),
        (
            {"auth": "jwt", "login_url": "https://login.salesforce.com", "client_id": "c"},
            "needs username, private_key",
        ),
        (
            {
                "auth": "password",
                "login_url": "https://x",
                "client_id": "c",
                "client_secret": "s",
                "username": "u",
            },
            "needs password",
        ),
        (
            {
                "auth": "client_credentials",
                "login_url": "http://acme.my.salesforce.com",
                "client_id": "c",
                "client_secret": "s",
            },
            "'login_url' must be an https URL",
        ),
        (
            {
                "auth": "client_credentials",
                "login_url": "https://a",
                "client_id": "c",
                "client_secret": "s",
                "pasword": "x",
            },
            "unknown keys pasword",
        ),
    ],
)
def test_a_bad_secret_is_refused_naming_the_entry(secret: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        SalesforceCredentials.from_secret(secret)


def test_a_bad_secret_message_never_contains_a_secret_value() -> None:
    with pytest.raises(ConfigurationError) as raised:
        SalesforceCredentials.from_secret(
            {
                "auth": "password",
                "login_url": "https://a",
                "client_id": "c",
                "client_secret": "hunter2",
                "username": "u",
            }
        )
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("error", "code", "message", "fields"),
    [
        (
            "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [LastName]",
            ("LastName",),
        ),
        (
            "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--",
            "UNABLE_TO_LOCK_ROW",
            "unable to obtain exclusive access to this record",
            (),
        ),
    ],
)
def test_bulk_result_errors_are_read_into_code_message_and_fields(
    error: str, code: str, message: str, fields: tuple[str, ...]
) -> None:
    failure = _bulk_failure(error)
    assert (failure.code, failure.message, failure.fields) == (code, message, fields)
