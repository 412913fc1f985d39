from urllib.parse import parse_qs, urlparse

import pytest
from allauth.socialaccount.models import SocialAccount, SocialApp
from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter
from django.urls import reverse

from core.models import User
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def test_signing_up_with_email_creates_an_account_and_signs_in(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "new.writer@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.writer@example.com")
    assert client.get(reverse("dashboard")).context["user"] == user


def test_signing_up_twice_with_the_same_email_in_other_case_is_refused(client):
    make_user("taken@example.com")
    response = client.post(
        reverse("account_signup"), {"email": "TAKEN@example.com", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 200
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1


def test_logging_in_with_email_and_password_opens_the_dashboard(client):
    make_user("writer@example.com")
    response = client.post(reverse("account_login"), {"login": "writer@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    page = client.get(reverse("dashboard"))
    assert b"Your stories" in page.content and b"No stories yet" in page.content


def test_a_wrong_password_is_refused(client):
    make_user("writer@example.com")
    response = client.post(reverse("account_login"), {"login": "writer@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_a_deactivated_user_cannot_log_in(client):
    make_user("gone@example.com", is_active=False)
    client.post(reverse("account_login"), {"login": "gone@example.com", "password": PASSWORD})
    assert "_auth_user_id" not in client.session


def test_the_dashboard_requires_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_provider_buttons_show_only_for_configured_providers(client, settings):
    page = client.get(reverse("account_login")).content.decode()
    for provider in ["google", "github", "discord"]:
        assert f"/accounts/{provider}/login/" not in page

    SocialApp.objects.create(provider="github", name="GitHub", client_id="id", secret="secret")
    settings.SOCIALACCOUNT_PROVIDERS = {
        **settings.SOCIALACCOUNT_PROVIDERS,
        "discord": {"APPS": [{"client_id": "id", "secret": "secret", "key": ""}]},
    }
    page = client.get(reverse("account_login")).content.decode()
    assert "/accounts/github/login/" in page
    assert "/accounts/discord/login/" in page
    assert "/accounts/google/login/" not in page


def test_providers_come_from_environment_variables(monkeypatch):
    from storyassistant import settings as settings_module

    monkeypatch.setenv("GOOGLE_CLIENT_ID", "google-id")
    monkeypatch.setenv("GOOGLE_CLIENT_SECRET", "google-secret")
    providers = settings_module._provider_apps()
    assert providers["google"]["APPS"] == [{"client_id": "google-id", "secret": "google-secret", "key": ""}]
    assert "APPS" not in providers["github"]


@pytest.fixture
def fake_github(local_server, monkeypatch):
    """A local server answering GitHub's OAuth token, user and emails endpoints."""

    @local_server.route("POST", "/login/oauth/access_token")
    def token(request):
        form = request.form()
        if form.get("code") != "good-code" or form.get("client_secret") != "gh-secret":
            return 200, {}, {"error": "bad_verification_code"}
        return 200, {}, {"access_token": "gho_testtoken", "token_type": "bearer", "scope": "read:user,user:email"}

    @local_server.route("GET", "/api/v3/user")
    def profile(request):
        if request.headers.get("authorization") != "token gho_testtoken":
            return 401, {}, {"message": "Bad credentials"}
        return 200, {}, {"id": 4242, "login": "octowriter", "name": "Octo Writer", "email": None}

    @local_server.route("GET", "/api/v3/user/emails")
    def emails(request):
        return 200, {}, [{"email": "octo@example.com", "primary": True, "verified": True, "visibility": "private"}]

    base = local_server.url
    monkeypatch.setattr(GitHubOAuth2Adapter, "access_token_url", f"{base}/login/oauth/access_token")
    monkeypatch.setattr(GitHubOAuth2Adapter, "authorize_url", f"{base}/login/oauth/authorize")
    monkeypatch.setattr(GitHubOAuth2Adapter, "profile_url", f"{base}/api/v3/user")
    monkeypatch.setattr(GitHubOAuth2Adapter, "emails_url", f"{base}/api/v3/user/emails")
    SocialApp.objects.create(provider="github", name="GitHub", client_id="gh-id", secret="gh-secret")
    return local_server


def start_github_login(client, fake_github):
    response = client.post("/accounts/github/login/")
    assert response.status_code == 302
    authorize = urlparse(response["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}" == fake_github.url
    params = parse_qs(authorize.query)
    assert params["client_id"] == ["gh-id"]
    return params["state"][0]


def test_github_login_creates_a_user_from_the_providers_answers(client, fake_github):
    state = start_github_login(client, fake_github)
    response = client.get("/accounts/github/login/callback/", {"code": "good-code", "state": state})

    assert response.status_code == 302
    user = User.objects.get(email="octo@example.com")
    assert SocialAccount.objects.get(user=user, provider="github").uid == "4242"
    assert client.get(reverse("dashboard")).context["user"] == user
    token_request = next(r for r in fake_github.requests if r.path == "/login/oauth/access_token")
    assert token_request.form()["code"] == "good-code"
    assert token_request.form()["client_id"] == "gh-id"


def test_github_login_with_a_forged_state_is_refused(client, fake_github):
    start_github_login(client, fake_github)
    client.get("/accounts/github/login/callback/", {"code": "good-code", "state": "forged"})
    assert not User.objects.filter(email="octo@example.com").exists()
    assert not any(r.path == "/login/oauth/access_token" for r in fake_github.requests)


def test_github_login_with_a_rejected_code_creates_nobody(client, fake_github):
    state = start_github_login(client, fake_github)
    client.get("/accounts/github/login/callback/", {"code": "bad-code", "state": state})
    assert not User.objects.filter(email="octo@example.com").exists()


def test_a_github_login_that_joins_an_existing_account_by_email_ends_its_api_tokens(client, fake_github):
    from allauth.account.models import EmailAddress

    from api.models import ApiToken

    writer = make_user("octo@example.com")
    EmailAddress.objects.create(user=writer, email="octo@example.com", verified=True, primary=True)
    _, key = ApiToken.issue(writer, "backup script")
    assert ApiToken.authenticate(key) == writer
    state = start_github_login(client, fake_github)
    client.get("/accounts/github/login/callback/", {"code": "good-code", "state": state})
    assert SocialAccount.objects.get(provider="github").user == writer  # connected by the matching address
    assert ApiToken.authenticate(key) is None and not ApiToken.objects.filter(user=writer).exists()
