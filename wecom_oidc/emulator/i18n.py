"""Page texts in zh-CN and en, picked by ?lang= or Accept-Language (zh when unsure)."""

from __future__ import annotations

from flask import request

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "html_lang": "zh-CN",
        "emulator": "企业微信模拟器",
        "banner": "仅供测试，并非真实的企业微信",
        "error_title": "出错了",
        "err_invalid_appid": "appid 参数错误：不是本企业的 CorpID。",
        "err_invalid_agentid": "agentid 参数错误：应用不存在。",
        "err_invalid_response_type": "response_type 参数错误，应为 code。",
        "err_invalid_scope": "scope 参数错误，应为 snsapi_base 或 snsapi_privateinfo。",
        "err_invalid_redirect_uri": "redirect_uri 参数错误。",
        "err_domain_err": "redirect_uri需使用应用可信域名",
        "err_not_in_visible_range": "你不在该应用的可见范围内，无法授权。",
        "err_invalid_login_type": "login_type 参数错误，应为 CorpApp。",
        "picker_title": "这台手机登录的是哪位成员？",
        "picker_hint": "模拟的企业微信客户端：选择一位成员后继续。",
        "signed_in_as": "当前成员",
        "switch": "切换成员",
        "consent_title": "授权登录",
        "consent_body": "“{app}”申请获取你的以下信息：",
        "consent_fields": "头像、性别、手机号、邮箱、企业邮箱、地址",
        "allow": "同意",
        "deny": "拒绝",
        "qr_title": "企业微信扫码登录",
        "qr_hint": "请使用企业微信扫描二维码登录「{corp}」",
        "scan_as_title": "没有手机？以下列身份扫码：",
        "scan_as": "以 {name}（{userid}）身份扫码",
        "cancel": "取消登录",
        "not_member": "非企业成员",
        "status_2": "已禁用",
        "status_4": "未激活",
        "status_5": "已离职",
        "out_of_range": "不在可见范围",
        "index_title": "企业微信模拟器",
    },
    "en": {
        "html_lang": "en",
        "emulator": "WeCom emulator",
        "banner": "for tests only, not the real WeCom",
        "error_title": "Something went wrong",
        "err_invalid_appid": "Invalid appid: not this corp's CorpID.",
        "err_invalid_agentid": "Invalid agentid: no such app.",
        "err_invalid_response_type": "Invalid response_type: it must be code.",
        "err_invalid_scope": "Invalid scope: use snsapi_base or snsapi_privateinfo.",
        "err_invalid_redirect_uri": "Invalid redirect_uri.",
        "err_domain_err": "redirect_uri需使用应用可信域名 (the redirect_uri host is not a "
                          "trusted domain of the app)",
        "err_not_in_visible_range": "You are not in this app's visible range, so you cannot "
                                    "authorize it.",
        "err_invalid_login_type": "Invalid login_type: it must be CorpApp.",
        "picker_title": "Which member is this phone signed in as?",
        "picker_hint": "An emulated WeCom app: pick a member to continue.",
        "signed_in_as": "Signed in as",
        "switch": "switch member",
        "consent_title": "Authorize sign-in",
        "consent_body": "“{app}” asks for the following information:",
        "consent_fields": "avatar, gender, mobile, email, business email, address",
        "allow": "Allow",
        "deny": "Deny",
        "qr_title": "Sign in with WeCom",
        "qr_hint": "Scan the QR code with WeCom to sign in to {corp}",
        "scan_as_title": "No phone at hand? Scan as:",
        "scan_as": "Scan as {name} ({userid})",
        "cancel": "Cancel",
        "not_member": "not a member",
        "status_2": "disabled",
        "status_4": "not activated",
        "status_5": "departed",
        "out_of_range": "outside the visible range",
        "index_title": "WeCom emulator",
    },
}


def page_lang() -> str:
    """`lang` param first (WeCom's web login takes zh / en), then Accept-Language."""
    lang = request.args.get("lang", "") or request.form.get("lang", "")
    if lang.lower().startswith(("zh", "en")):
        return lang[:2].lower()
    for value, _quality in request.accept_languages:
        if value.lower().startswith(("zh", "en")):
            return value[:2].lower()
    return "zh"


def texts() -> dict[str, str]:
    return TEXT[page_lang()]
