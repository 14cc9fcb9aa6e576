"""The device pages' texts in zh-CN and en (the shared ones come from i18n)."""

from __future__ import annotations

from .i18n import page_lang, texts

DEVICE_TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "device_title": "设备登录",
        "enter_code": "请输入设备上显示的验证码",
        "code_label": "验证码",
        "next": "下一步",
        "unknown_code": "验证码无效或已过期，请核对设备上显示的验证码。",
        "too_many": "输入错误次数过多，请稍后再试。",
        "confirm_heading": "是否允许此设备登录？",
        "confirm_app": "应用",
        "confirm_code": "设备验证码",
        "confirm_device": "发起请求的设备",
        "confirm_as": "登录身份",
        "confirm_warning": "请确认验证码与你自己设备上显示的一致。"
                           "如果不是你本人发起的请求，请拒绝。",
        "approve": "允许",
        "deny": "拒绝",
        "approved_heading": "已允许",
        "approved": "设备已登录{app}。请回到终端继续操作，本页面可以关闭。",
        "denied_heading": "已拒绝",
        "denied": "已拒绝此设备的登录请求。",
        "already_heading": "请求已处理",
        "already": "此验证码已被使用或已处理，请在设备上重新发起登录。",
        "invalid_heading": "请求无效",
        "invalid": "确认表单已失效，请重新打开设备上的链接。",
        "cancelled_heading": "已取消登录",
        "cancelled": "企业微信登录已取消。",
        "retry": "重试",
    },
    "en": {
        "device_title": "Device sign-in",
        "enter_code": "Enter the code shown on your device",
        "code_label": "Code",
        "next": "Next",
        "unknown_code": "This code is invalid or has expired. Check the code on your device.",
        "too_many": "Too many wrong codes. Please try again later.",
        "confirm_heading": "Allow this device to sign in?",
        "confirm_app": "Application",
        "confirm_code": "Device code",
        "confirm_device": "Requested from",
        "confirm_as": "Signing in as",
        "confirm_warning": "Check that the code matches the one on your own device. If you "
                           "did not start this sign-in, deny it.",
        "approve": "Approve",
        "deny": "Deny",
        "approved_heading": "Approved",
        "approved": "The device is signed in to {app}. Go back to your terminal; you can "
                    "close this page.",
        "denied_heading": "Denied",
        "denied": "The device's sign-in request was denied.",
        "already_heading": "Already handled",
        "already": "This code was already used or answered. Start the sign-in again on "
                   "the device.",
        "invalid_heading": "Invalid request",
        "invalid": "This confirmation form is no longer valid. Open the link from the "
                   "device again.",
        "cancelled_heading": "Sign-in cancelled",
        "cancelled": "The WeCom login was cancelled.",
        "retry": "Try again",
    },
}


def device_texts() -> dict[str, str]:
    return {**texts(), **DEVICE_TEXTS[page_lang()]}
