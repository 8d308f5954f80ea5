// openid-client (an OpenID-certified relying party library) driving the gateway's OpenID
// provider, one step per call: `node rp.mjs <command> '<json>'` prints one JSON line.
// Non-repudiation checks are on: every ID token's signature is verified against the
// provider's JWKS. The browser part of a sign-in (the gateway's pages) is the Rust test's.
import * as client from 'openid-client';
import * as jose from 'jose';

const [, , command, raw] = process.argv;
const a = JSON.parse(raw || '{}');

async function config() {
  let auth;
  let metadata = { redirect_uris: a.redirect_uri ? [a.redirect_uri] : undefined };
  switch (a.auth) {
    case 'client_secret_basic': auth = client.ClientSecretBasic(a.secret); break;
    case 'client_secret_post': auth = client.ClientSecretPost(a.secret); break;
    case 'private_key_jwt': {
      const key = await jose.importJWK(a.private, 'ES256');
      auth = client.PrivateKeyJwt(key);
      break;
    }
    default: auth = client.None();
  }
  const c = await client.discovery(new URL(a.issuer), a.client_id, metadata, auth, {
    execute: [client.allowInsecureRequests],
  });
  client.enableNonRepudiationChecks(c);
  return c;
}

const out = (v) => { process.stdout.write(JSON.stringify(v) + '\n'); };

async function run() {
  switch (command) {
    case 'keygen': {
      const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
      const pub = await jose.exportJWK(publicKey);
      const priv = await jose.exportJWK(privateKey);
      pub.kid = priv.kid = 'rp-key-1';
      pub.alg = priv.alg = 'ES256';
      pub.use = 'sig';
      return out({ public: pub, private: priv });
    }
    case 'assertion': {
      // A client assertion (RFC 7523 §3) as openid-client signs one, for the test to replay.
      const key = await jose.importJWK(a.private, 'ES256');
      const now = Math.floor(Date.now() / 1000);
      const jwt = await new jose.SignJWT({ jti: jose.base64url.encode(crypto.getRandomValues(new Uint8Array(16))) })
        .setProtectedHeader({ alg: 'ES256', kid: a.private.kid })
        .setIssuer(a.client_id).setSubject(a.client_id).setAudience(a.audience)
        .setIssuedAt(now).setExpirationTime(now + 60)
        .sign(key);
      return out({ assertion: jwt });
    }
    case 'begin': {
      const c = await config();
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const params = {
        redirect_uri: a.redirect_uri,
        scope: a.scope,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      };
      if (a.prompt) params.prompt = a.prompt;
      if (a.response_mode) params.response_mode = a.response_mode;
      const url = client.buildAuthorizationUrl(c, params);
      return out({ url: url.href, verifier, state, nonce });
    }
    case 'finish': {
      const c = await config();
      const tokens = await client.authorizationCodeGrant(c, new URL(a.callback), {
        pkceCodeVerifier: a.verifier,
        expectedState: a.state,
        expectedNonce: a.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      const userinfo = await client.fetchUserInfo(c, tokens.access_token, claims.sub);
      const result = { claims, userinfo, id_token: tokens.id_token, access_token: tokens.access_token, scope: tokens.scope };
      if (tokens.refresh_token) {
        const refreshed = await client.refreshTokenGrant(c, tokens.refresh_token);
        result.refreshed = refreshed.claims();
        result.rotated = refreshed.refresh_token !== tokens.refresh_token;
        result.refresh_token = refreshed.refresh_token;
        result.old_refresh_token = tokens.refresh_token;
        result.access_token = refreshed.access_token;
      }
      if (a.introspect) {
        result.introspection = await client.tokenIntrospection(c, result.access_token);
      }
      if (a.post_logout_redirect_uri) {
        result.end_session = client.buildEndSessionUrl(c, {
          id_token_hint: tokens.id_token,
          post_logout_redirect_uri: a.post_logout_redirect_uri,
          state: 'bye',
        }).href;
      }
      return out(result);
    }
    case 'refresh': {
      const c = await config();
      const t = await client.refreshTokenGrant(c, a.refresh_token);
      return out({ access_token: t.access_token, refresh_token: t.refresh_token, claims: t.claims() });
    }
    case 'introspect': {
      const c = await config();
      return out(await client.tokenIntrospection(c, a.token));
    }
    case 'revoke': {
      const c = await config();
      await client.tokenRevocation(c, a.token);
      return out({ revoked: true });
    }
    case 'userinfo': {
      const c = await config();
      return out(await client.fetchUserInfo(c, a.token, client.skipSubjectCheck));
    }
    case 'credentials': {
      const c = await config();
      const t = await client.clientCredentialsGrant(c, { scope: a.scope || '' });
      return out({ access_token: t.access_token, scope: t.scope, expires_in: t.expires_in, id_token: t.id_token ?? null });
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
}

run().catch((e) => {
  out({ error: `${e.name}: ${e.message}`, code: e.code ?? null, cause: e.cause?.error ?? e.error ?? null });
  process.exit(1);
});
