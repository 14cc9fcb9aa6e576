"""The bridge's page texts in zh-CN and en, chosen by Accept-Language."""

from __future__ import annotations

from flask import request

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "企业微信登录",
        "error": "登录失败",
        "denied": "无法登录",
        "what_happened": "发生了什么",
        "admin_fix": "管理员请检查",
        "errcode": "错误码",
        "back": "返回应用",
        "restart": "请回到应用重新登录。",
        "login_state": "登录链接已失效或已被使用（例如刷新了页面或等待过久）。",
        "bad_request": "应用发来的登录请求无效，无法继续。",
        "store_down": "登录服务暂时不可用，请稍后再试。",
        "not_found": "页面不存在。",
        "internal": "登录服务出现内部错误，请稍后再试。",
        "request_id": "请求编号",
    },
    "en": {
        "title": "Sign in with WeCom",
        "error": "Sign-in failed",
        "denied": "You cannot sign in",
        "what_happened": "What happened",
        "admin_fix": "For the administrator",
        "errcode": "Error code",
        "back": "Back to the application",
        "restart": "Please go back to the application and sign in again.",
        "login_state": "This sign-in link has expired or was already used "
                       "(for example after a page reload or a long wait).",
        "bad_request": "The application sent an invalid sign-in request, so it cannot go on.",
        "store_down": "The sign-in service is temporarily unavailable. Please try again soon.",
        "not_found": "There is no such page.",
        "internal": "The sign-in service hit an internal error. Please try again soon.",
        "request_id": "Request id",
    },
}


def page_lang() -> str:
    """'zh' or 'en': ui_locales first, then Accept-Language; Chinese by default."""
    hint = request.values.get("ui_locales", "").lower() if request else ""
    if hint.startswith("en"):
        return "en"
    if hint.startswith("zh"):
        return "zh"
    best = request.accept_languages.best_match(["zh", "zh-CN", "en"]) if request else None
    return "en" if best == "en" else "zh"


def texts() -> dict[str, str]:
    return TEXTS[page_lang()]
