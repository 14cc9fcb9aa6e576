"""The `[[clients]]` and `[claims]` blocks in docs/recipes/ are what the bridge accepts:
each TOML block, on top of a minimal config, loads without a problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wecom_oidc.config import load_settings

RECIPES = Path(__file__).resolve().parents[2] / "docs" / "recipes"
BASE = """
issuer = "https://sso.example.com"

[wecom]
corp_id = "ww0123456789abcdef"
agent_id = 1000002
secret = "replace-me"
"""
PAGES = sorted(RECIPES.glob("*.md"))


DUMMY_CLIENT = """
[[clients]]
client_id = "dummy"
client_secret = "dummy-secret-0123456789abcdef-0123"
redirect_uris = ["https://dummy.example/callback"]
"""


def bridge_blocks(page: Path) -> list[str]:
    """The page's TOML blocks for the bridge (an app's own TOML, such as
    oauth2-proxy.cfg, has neither [[clients]] nor [claims])."""
    blocks = re.findall(r"```toml\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    return [b for b in blocks if "[[clients]]" in b or "[claims]" in b]


def test_recipes_every_app_has_a_page_linked_from_the_index():
    index = (RECIPES / "README.md").read_text(encoding="utf-8")
    pages = {p.name for p in PAGES} - {"README.md"}
    assert len(pages) == 10
    for name in pages:
        assert f"]({name})" in index, f"{name} is not linked from docs/recipes/README.md"
    readme = (RECIPES.parents[1] / "README.md").read_text(encoding="utf-8")
    for name in pages:
        assert f"docs/recipes/{name}" in readme, f"README.md does not link {name}"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_recipes_bridge_config_blocks_load(page, tmp_path):
    blocks = bridge_blocks(page)
    if page.name != "README.md":
        assert any("[[clients]]" in b for b in blocks), f"{page.name} has no [[clients]] entry"
    for i, block in enumerate(blocks):
        path = tmp_path / f"{page.stem}-{i}.toml"
        client = "" if "[[clients]]" in block else DUMMY_CLIENT
        path.write_text(BASE + client + block, encoding="utf-8")
        settings = load_settings(str(path), env={})
        for client in settings.clients:
            assert client.client_id


def test_recipes_keycloak_kcadm_quotes_the_dotted_mapper_key():
    # kcadm reads -s config.claim.value=... as a nested object: the mapper would get no
    # value and grant the role to nobody. The key with a dot must be quoted.
    page = (RECIPES / "keycloak.md").read_text(encoding="utf-8")
    assert "config.\"claim.value\"=管理层" in page
    assert "config.claim.value=" not in page


def test_recipes_each_page_names_the_app_versions_it_was_checked_against():
    for page in PAGES:
        if page.name != "README.md":
            text = page.read_text(encoding="utf-8")
            assert re.search(r"(Checked against|Written for|Runs for real)[^.]*\d", text), \
                f"{page.name} does not say which app versions it was checked against"
