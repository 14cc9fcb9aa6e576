"""wecom-oidc: an OpenID Connect provider in front of WeCom (企业微信) login."""

__version__ = "0.1.0"
