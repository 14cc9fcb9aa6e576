"""The bridge's page texts in zh-CN and en, chosen by Accept-Language."""

from __future__ import annotations

from flask import request
from werkzeug.exceptions import HTTPException

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
        "other_browser": "这个登录链接不是在当前浏览器中发起的，为了你的安全，登录没有继续，"
                         "你的登录状态也没有改变。如果有人发给你这个链接，请不要理会。",
        "restart_here": "如需登录，请在此浏览器中回到应用重新登录。",
        "too_long": "参数 {name} 超过了 {limit} 个字符的上限。",
        "too_many": "请求过于频繁，请在 {seconds} 秒后再试。",
        "too_many_advice": "如果你所在的整个办公网络都看到此页面，请联系管理员。",
        "malformed": "参数 {name} 的格式不正确。",
        "store_down": "登录服务暂时不可用，请稍后再试。",
        "not_found": "页面不存在。",
        "internal": "登录服务出现内部错误，请稍后再试。",
        "request_id": "请求编号",
        "logged_out_title": "已退出登录",
        "logged_out": "你已退出企业微信统一登录。",
        "continue": "继续",
        "confirm_logout_title": "退出登录？",
        "confirm_logout": "要退出企业微信统一登录吗？退出后，使用它登录的应用需要重新登录。",
        "confirm_logout_app": "发起退出的应用",
        "confirm_logout_button": "退出登录",
        "reason_cancelled": "已取消企业微信登录。",
        "reason_not_member": "你不是本企业的企业微信成员，无法在此登录。",
        "reason_not_visible": "你的企业微信账号不在此应用的可见范围内，无法使用此应用。",
        "reason_disabled": "你的企业微信账号已在本企业通讯录中被禁用。",
        "reason_not_activated": "你的企业微信账号尚未激活。",
        "reason_departed": "你的企业微信账号已离开本企业。",
        "reason_bad_code": "企业微信登录凭证无效、已过期或已被使用，请重新登录。",
        "reason_transport": "企业微信暂时没有响应，请稍后再试。",
        "reason_rate_limited": "企业微信正在限制本服务器的请求，请一分钟后再试。",
        "reason_refused": "企业微信拒绝了请求（错误码 {code}）。",
        "reason_policy": "你没有使用此应用的权限。如需访问，请联系管理员。",
        "reason_directory": "暂时无法读取企业通讯录，因此无法核对此应用的访问权限。"
                            "请一分钟后再试。",
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
        "other_browser": "This sign-in link was not started in this browser, so for your "
                         "safety the sign-in did not go on and nothing about your sign-in "
                         "changed. If someone sent you this link, ignore it.",
        "restart_here": "To sign in, go back to the application in this browser and sign "
                        "in again.",
        "too_long": "The parameter {name} is longer than the limit of {limit} characters.",
        "too_many": "Too many requests. Please try again in {seconds} seconds.",
        "too_many_advice": "If everyone on your office network sees this page, please tell "
                           "your administrator.",
        "malformed": "The parameter {name} is not well-formed.",
        "store_down": "The sign-in service is temporarily unavailable. Please try again soon.",
        "not_found": "There is no such page.",
        "internal": "The sign-in service hit an internal error. Please try again soon.",
        "request_id": "Request id",
        "logged_out_title": "Signed out",
        "logged_out": "You have signed out of WeCom single sign-on.",
        "continue": "Continue",
        "confirm_logout_title": "Sign out?",
        "confirm_logout": "Do you want to sign out of WeCom single sign-on? The applications "
                          "you signed in to with it will ask you to sign in again.",
        "confirm_logout_app": "Requested by",
        "confirm_logout_button": "Sign out",
        "reason_cancelled": "The WeCom login was cancelled.",
        "reason_not_member": "You are not a member of this company in WeCom, so you cannot "
                             "sign in here.",
        "reason_not_visible": "Your WeCom account may not use this app.",
        "reason_disabled": "Your WeCom account is disabled in this company's directory.",
        "reason_not_activated": "Your WeCom account has not been activated yet.",
        "reason_departed": "Your WeCom account has left this company.",
        "reason_bad_code": "The WeCom login code is invalid, expired or already used. "
                           "Please sign in again.",
        "reason_transport": "WeCom did not answer. Please try again in a moment.",
        "reason_rate_limited": "WeCom is limiting requests from this server right now. "
                               "Please try again in a minute.",
        "reason_refused": "WeCom refused the request (errcode {code}).",
        "reason_policy": "You do not have access to this application. Ask your "
                         "administrator if you need it.",
        "reason_directory": "The company directory cannot be read right now, so this "
                            "app's access rules cannot be checked. Please try again in a "
                            "minute.",
    },
}


def page_lang() -> str:
    """'zh' or 'en': ui_locales first, then Accept-Language; Chinese by default."""
    hint = _ui_locales().lower() if request else ""
    if hint.startswith("en"):
        return "en"
    if hint.startswith("zh"):
        return "zh"
    best = request.accept_languages.best_match(["zh", "zh-CN", "en"]) if request else None
    return "en" if best == "en" else "zh"


def _ui_locales() -> str:
    """ui_locales from the query or form; a body the bridge refused (too large,
    malformed) is not read again while rendering the refusal."""
    try:
        return request.values.get("ui_locales", "")
    except HTTPException:
        return request.args.get("ui_locales", "")


def texts() -> dict[str, str]:
    return TEXTS[page_lang()]


def reason_text(reason: str, code: int | None = None) -> str:
    """What the person is told about a failure or refusal (an error's `reason`),
    in the page's language."""
    t = texts()
    text = t.get("reason_" + reason)
    return text.format(code=code) if text else t["internal"]
