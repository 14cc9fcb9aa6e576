"""One bridge + emulator stack for the interop tests, with a client per relying party.

The claims settings that the recipes rely on (email_verified true for the addresses
the template builds) come in through the environment, as an operator could set them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e.stack import Stack, free_port, start_stack

# Clients of the stack, registered as the recipes in docs/recipes/ register them.
NODE_WEB = ("node-web", "node-web-secret-0123456789abcdef")
NODE_WEB_REDIRECT = "https://node-rp.example/callback"
NODE_WEB_LOGOUT = "https://node-rp.example/logged-out"
NODE_ES256 = ("node-es256", "node-es256-secret-0123456789abcd")
NODE_CLI = "node-cli"
NODE_CLI_REGISTERED = "http://127.0.0.1:8000/callback"  # loopback: any port is accepted
APACHE = ("apache", "apache-secret-0123456789abcdef0-0123")
RECIPES = ("recipes", "recipes-secret-0123456789abcdef-0123")
RECIPES_REDIRECT = "https://app.example/oauth2/callback"
KUBELOGIN = "kubelogin"  # registered as docs/recipes/kubernetes.md registers it
VAULT = ("vault", "vault-secret-0123456789abcdef01-0123")
VAULT_CLI_REDIRECT = "http://localhost:8250/oidc/callback"
KEYCLOAK = ("keycloak", "keycloak-secret-0123456789abcdef")
KEYCLOAK_REDIRECT = "https://keycloak.example/realms/corp/broker/wecom/endpoint"
GITEA = ("gitea", "gitea-secret-0123456789abcdef012")
GITEA_REDIRECT = "https://git.example/user/oauth2/wecom/callback"
GITEA_ROOT = "https://git.example/"
ARGOCD = ("argocd", "argocd-secret-0123456789abcdef01")
ARGOCD_REDIRECT = "https://argocd.example/auth/callback"


# Grafana's recipe: a role claim computed from the member's tags and departments.
RECIPES_ROLES = """roles = { Admin = ["tag:管理层"], Editor = ["dept:研发中心"] }
role_default = "Viewer"
"""


def interop_clients(apache_port: int) -> str:
    roles = RECIPES_ROLES
    return f"""
[[clients]]
client_id = "{NODE_WEB[0]}"
client_secret = "{NODE_WEB[1]}"
redirect_uris = ["{NODE_WEB_REDIRECT}"]
post_logout_redirect_uris = ["{NODE_WEB_LOGOUT}"]
refresh_tokens = "offline_access"

[[clients]]
client_id = "{NODE_ES256[0]}"
client_secret = "{NODE_ES256[1]}"
redirect_uris = ["{NODE_WEB_REDIRECT}"]
id_token_signed_response_alg = "ES256"

[[clients]]
client_id = "{NODE_CLI}"
redirect_uris = ["{NODE_CLI_REGISTERED}"]
refresh_tokens = "offline_access"

[[clients]]
client_id = "{APACHE[0]}"
client_secret = "{APACHE[1]}"
redirect_uris = ["http://127.0.0.1:{apache_port}/protected/redirect_uri"]
post_logout_redirect_uris = ["http://127.0.0.1:{apache_port}/loggedout.html"]

[[clients]]
client_id = "{RECIPES[0]}"
client_secret = "{RECIPES[1]}"
redirect_uris = ["{RECIPES_REDIRECT}"]
refresh_tokens = "offline_access"
{roles}
[[clients]]
client_id = "{KUBELOGIN}"
redirect_uris = ["http://localhost:8000", "http://127.0.0.1:8000"]
refresh_tokens = "offline_access"

[[clients]]
client_id = "{VAULT[0]}"
client_secret = "{VAULT[1]}"
redirect_uris = ["https://vault.example/ui/vault/auth/oidc/oidc/callback", "{VAULT_CLI_REDIRECT}"]

[[clients]]
client_id = "{KEYCLOAK[0]}"
client_secret = "{KEYCLOAK[1]}"
redirect_uris = ["{KEYCLOAK_REDIRECT}"]
refresh_tokens = "never"
extra_claims = {{ family_name = "family_name", given_name = "given_name" }}

[[clients]]
client_id = "{GITEA[0]}"
client_secret = "{GITEA[1]}"
redirect_uris = ["{GITEA_REDIRECT}"]
post_logout_redirect_uris = ["{GITEA_ROOT}", "{GITEA_ROOT.rstrip('/')}"]
refresh_tokens = "never"

[[clients]]
client_id = "{ARGOCD[0]}"
client_secret = "{ARGOCD[1]}"
redirect_uris = ["{ARGOCD_REDIRECT}"]
"""


@pytest.fixture(scope="session")
def apache_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def interop_stack(tmp_path_factory, apache_port) -> Iterator[Stack]:
    with pytest.MonkeyPatch.context() as mp:
        # The bridge process inherits these; the e2e config builds emails from a template.
        mp.setenv("WECOM_OIDC_CLAIMS__TEMPLATE_EMAIL_VERIFIED", "true")
        mp.setenv("WECOM_OIDC_CLAIMS__WECOM_EMAIL_VERIFIED", "true")
        s = start_stack(tmp_path_factory.mktemp("interop"),
                        extra_config=interop_clients(apache_port))
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _clean_emulator(request):
    """A fresh emulator for each test that logs in (the docs checks start no stack)."""
    if "interop_stack" in request.fixturenames:
        request.getfixturevalue("interop_stack").emu("POST", "reset")
