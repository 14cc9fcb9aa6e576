"""The WeCom server API client (no Flask, no Authlib): `WecomClient`, the shared
access_token cache `AccessTokenSource`, and the errcode error tree in `errors`."""

from .client import CodeUser, WecomClient
from .errors import WecomApiError, error_for
from .token import AccessTokenSource

__all__ = ["AccessTokenSource", "CodeUser", "WecomApiError", "WecomClient", "error_for"]
