"""A WeCom (企业微信) emulator for tests, benchmarks and the demo.

One Flask app serves the paths of all of WeCom's hosts, true to ../shared/wecom-api.md:

- `/cgi-bin/...`: gettoken, auth/getuserinfo, auth/getuserdetail (POST), user/getuserinfo
  (old, PascalCase), user/get, department/list, department/simplelist, tag/list, tag/get.
  Always HTTP 200 with errcode/errmsg (api.py).
- `/connect/oauth2/authorize`: the in-app OAuth page; the emulated phone's member is the
  `emu_userid` cookie, picked on a page when absent (pages.py).
- `/wwlogin/sso/login`, legacy `/wwopen/sso/qrConnect`: the web login with a real QR code and
  "scan as" buttons (`data-userid`) that call `/wwlogin/sso/scan` (weblogin.py, qr.py).
- `/_emulator/...`: the control API for tests: faults, latency, counters, clock, members,
  direct logins (control.py).

Entry points: `create_emulator_app(config)` (app.py), `serve(config)` / `run(config)`
(server.py), `python -m wecom_oidc.emulator` (__main__.py), `EmulatorConfig` /
`load_emulator_config(path)` (config.py); the directory format is in directory.py.
It imports flask, werkzeug, segno (the QR code) and the standard library only.
"""
