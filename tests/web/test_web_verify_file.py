"""WeCom's domain verification file (WW_verify_*.txt) at the domain root."""

from __future__ import annotations


def with_verify_file(build_app, issuer: str | None = None):
    # The table must sit inside [wecom]: add it through the environment.
    app, _ = build_app(issuer=issuer, env={
        "WECOM_OIDC_WECOM__VERIFY_FILES": '{"WW_verify_Ab12Cd.txt": "Ab12Cd"}'})
    return app.test_client()


def test_verify_file_configured_is_served_as_text(build_app):
    resp = with_verify_file(build_app).get("/WW_verify_Ab12Cd.txt")
    assert resp.status_code == 200
    assert resp.get_data(as_text=True) == "Ab12Cd"
    assert resp.mimetype == "text/plain"


def test_verify_file_is_at_root_even_with_issuer_prefix(build_app):
    http = with_verify_file(build_app, issuer="https://sso.example.com/oidc")
    assert http.get("/WW_verify_Ab12Cd.txt").get_data(as_text=True) == "Ab12Cd"


def test_verify_file_not_configured_is_404(http):
    assert http.get("/WW_verify_Ab12Cd.txt").status_code == 404


def test_verify_file_other_name_is_404(build_app):
    assert with_verify_file(build_app).get("/WW_verify_Other.txt").status_code == 404
