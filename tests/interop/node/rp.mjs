// A relying party built on panva's openid-client (an independent, certified RP library),
// driven by tests/interop/test_interop_openid_client.py.
//
//   node rp.mjs '<json settings>'
//
// settings: issuer, client_id, client_secret (absent: public client, auth "none"),
// redirect_uri, scope, id_token_signed_response_alg (optional), post_logout_redirect_uri
// (optional).
//
// Protocol on stdout, one JSON object per line:
//   1. {"authorization_url": ...}   then the script reads the callback URL from stdin
//   2. {"ok": true, ...results}     or {"ok": false, "error": ...} (exit code 1)
//
// Everything openid-client checks is left on: discovery's issuer equals the URL asked,
// the authorization response's state and iss (RFC 9207), PKCE S256, the ID token's
// iss/aud/exp/iat/nonce/azp and (non-repudiation) its signature against jwks_uri, the
// userinfo sub against the ID token's, and the refreshed ID token's iss/sub/aud.
// The bridge runs on plain http on loopback in the tests, hence allowInsecureRequests.

import * as client from "openid-client";
import { createInterface } from "node:readline";

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

async function readLine() {
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line.trim()) {
      rl.close();
      return line.trim();
    }
  }
  throw new Error("stdin closed before a callback URL came");
}

let step = "start";

async function errorInfo(e) {
  let cause = e?.cause;
  if (cause instanceof Response) {
    cause = { status: cause.status, body: await cause.text().catch(() => "") };
  } else if (cause instanceof Error) {
    cause = { name: cause.name, code: cause.code, message: cause.message };
  } else if (cause && typeof cause === "object") {
    cause = JSON.parse(JSON.stringify(cause));
  }
  return {
    ok: false,
    step,
    error: e?.name ?? "Error",
    code: e?.code,
    oauth_error: e?.error,
    message: e?.message ?? String(e),
    cause,
  };
}

async function main() {
  const s = JSON.parse(process.argv[2]);
  const metadata = {};
  if (s.id_token_signed_response_alg) {
    metadata.id_token_signed_response_alg = s.id_token_signed_response_alg;
  }
  let auth;
  if (s.client_secret) {
    metadata.client_secret = s.client_secret;
    auth = client.ClientSecretBasic(s.client_secret);
  } else {
    auth = client.None();
  }
  step = "discovery";
  const config = await client.discovery(new URL(s.issuer), s.client_id, metadata, auth, {
    execute: [client.allowInsecureRequests],
  });
  client.enableNonRepudiationChecks(config);

  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const nonce = client.randomNonce();
  const state = client.randomState();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: s.redirect_uri,
    scope: s.scope,
    code_challenge: codeChallenge,
    code_challenge_method: "S256",
    nonce,
    state,
  });
  out({ authorization_url: authorizationUrl.href });

  step = "authorization_code_grant";
  const callback = new URL(await readLine());
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: codeVerifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
  const idClaims = tokens.claims();
  step = "userinfo";
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
  const result = {
    ok: true,
    server: config.serverMetadata(),
    token_type: tokens.token_type,
    scope: tokens.scope,
    expires_in: tokens.expiresIn(),
    has_refresh_token: Boolean(tokens.refresh_token),
    id_token_header: JSON.parse(
      Buffer.from(tokens.id_token.split(".")[0], "base64url").toString("utf8"),
    ),
    id_token_claims: idClaims,
    userinfo,
  };
  step = "introspection";
  if (s.client_secret) {
    result.introspection = await client.tokenIntrospection(config, tokens.access_token);
  }
  step = "refresh";
  if (tokens.refresh_token) {
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    result.refreshed = {
      id_token_claims: refreshed.claims() ?? null,
      rotated: Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
      userinfo: await client.fetchUserInfo(config, refreshed.access_token, idClaims.sub),
    };
    // The old refresh token was rotated away: using it again must fail (and, per the
    // bridge's reuse detection, revoke the whole grant).
    try {
      await client.refreshTokenGrant(config, tokens.refresh_token);
      result.reused_refresh_token = { accepted: true };
    } catch (e) {
      result.reused_refresh_token = { accepted: false, error: e?.error ?? e?.code };
    }
  }
  step = "end_session_url";
  if (s.post_logout_redirect_uri) {
    result.end_session_url = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: s.post_logout_redirect_uri,
      state: "bye",
    }).href;
  }
  out(result);
}

main().catch(async (e) => {
  out(await errorInfo(e));
  process.exitCode = 1;
});
