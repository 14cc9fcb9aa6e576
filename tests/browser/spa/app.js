// A public client with PKCE (oidc-client-ts does S256 by default): sign in through the
// bridge, load userinfo, refresh with the refresh token, sign out (revoking the tokens).
"use strict";
const cfg = window.SPA_CONFIG;
const mgr = new oidc.UserManager({
  authority: cfg.authority,
  client_id: cfg.client_id,
  redirect_uri: location.origin + "/callback",
  post_logout_redirect_uri: location.origin + "/",
  response_type: "code",
  scope: "openid profile offline_access",
  loadUserInfo: true,
  automaticSilentRenew: false,
  revokeTokensOnSignout: true,
  userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
});
let refreshes = 0;

function $(id) { return document.getElementById(id); }

function show(user) {
  $("status").textContent = user ? "signed in" : "signed out";
  $("sub").textContent = user ? user.profile.sub : "";
  $("name").textContent = user ? (user.profile.name || "") : "";
  $("refreshes").textContent = String(refreshes);
}

function fail(err) {
  $("status").textContent = "error";
  $("error").textContent = String(err && err.message || err);
}

$("login").onclick = () => mgr.signinRedirect().catch(fail);
$("refresh").onclick = () => mgr.signinSilent().then((user) => {
  refreshes += 1;
  show(user);
  $("status").textContent = "refreshed";
}).catch(fail);
$("logout").onclick = () => mgr.signoutRedirect().catch(fail);

(async () => {
  try {
    if (location.pathname === "/callback") {
      const user = await mgr.signinRedirectCallback();
      history.replaceState({}, "", "/");
      show(user);
    } else {
      show(await mgr.getUser());
    }
  } catch (err) {
    fail(err);
  }
})();
