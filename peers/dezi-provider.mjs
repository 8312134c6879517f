// A Dezi platform stand-in for zvp's tests and demo: panva's oidc-provider as the OpenID
// provider (authorization code with PKCE S256, public clients, pairwise subjects, the userinfo
// as a JWT signed with RS256 and encrypted RSA-OAEP / A256CBC-HS512 to the portal's key),
// and panva's jose for what Dezi adds: the verklaring signed by a separate eSeal key served at
// a jku URL, the status endpoint and the signed revocation list. Neither library is code of
// this project; this file configures them as the Koppelvlakspecificatie Dezi v0.7 describes.
//
//   node peers/dezi-provider.mjs SETTINGS.json
//
// SETTINGS.json: { "certificate", "key" (PEM files of the HTTPS server), "ca" (PEM: who signed
// it; default: the certificate itself), "client_id",
// "acceptance_client_id" (a second client whose userinfo is only signed, as in Dezi's
// acceptance environment), "redirect_uris" [...], "portal_jwks" (file: the portal's public
// encryption key as a JWKS), "persons" { login: { dezi_nummer, voorletters, voorvoegsel,
// achternaam, abonnee_nummer, abonnee_naam, rol_code, rol_naam } } }.
//
// Prints one JSON line when listening: { "issuer", "admin", "jku" }. The admin listener
// (plain HTTP, loopback) takes, for the tests:
//   POST /login    { "url": authorize URL, "person" }  -> { "location" } (the redirect back
//                  to the portal, after the login interaction a browser would do)
//   POST /fault    { ... } faults for the logins from now on (see `faults` below); {} clears
//   POST /revoke   { "verklaring_id" }: the status endpoint and the signed list revoke it
//   GET  /last     the last verklaring_id issued

import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { request as httpsRequest, createServer as createHttpsServer } from 'node:https';

import {
  CompactEncrypt, SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair,
  importJWK,
} from 'jose';
import Provider from 'oidc-provider';

const settings = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const tls = { cert: readFileSync(settings.certificate), key: readFileSync(settings.key) };
// Who signed the server's certificate, for the admin listener's own requests to it.
const ownCa = settings.ca ? readFileSync(settings.ca) : tls.cert;
const portalJwks = JSON.parse(readFileSync(settings.portal_jwks, 'utf8'));

const listen = (server, port = 0) =>
  new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server.address().port)));

const server = createHttpsServer(tls);
const port = await listen(server);
const issuer = `https://127.0.0.1:${port}`;
const jku = `${issuer}/eseal/jwks.json`;

// The platform's signing key (id_token, userinfo, signed list) and the eSeal key of the
// verklaring issuer; a stranger key for the "encrypted to another key" fault.
const platform = await generateKeyPair('RS256', { extractable: true });
const platformJwk = { ...(await exportJWK(platform.privateKey)), kid: 'platform-1', alg: 'RS256', use: 'sig' };
const eseal = await generateKeyPair('RS256', { extractable: true });
const esealPublic = { ...(await exportJWK(eseal.publicKey)), kid: 'eseal-1', alg: 'RS256', use: 'sig' };
const stranger = await generateKeyPair('RSA-OAEP', { extractable: true });

let faults = {};
const revoked = new Map();
let lastVerklaring = null;

async function makeVerklaring(person) {
  const f = faults.verklaring ?? {};
  const now = Math.floor(Date.now() / 1000);
  const id = f.verklaring_id ?? `vk-${randomUUID()}`;
  lastVerklaring = id;
  const uri = f.revocation_uri ?? `${issuer}/status/v1/verklaring/${encodeURIComponent(id)}`;
  const claims = {
    verklaring_id: id,
    dezi_nummer: person.dezi_nummer,
    voorletters: person.voorletters,
    voorvoegsel: person.voorvoegsel ?? null,
    achternaam: person.achternaam,
    abonnee_nummer: person.abonnee_nummer,
    abonnee_naam: person.abonnee_naam,
    rol_code: person.rol_code,
    rol_naam: person.rol_naam,
    rol_code_bron: 'BIG-register',
    ...(f.status_uri ? { status_uri: uri } : { revocatie_controle_uri: uri }),
  };
  const jwt = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'eseal-1', jku: f.jku ?? jku, typ: 'JWT' })
    .setIssuer('https://abonnee.dezi.nl')
    .setIssuedAt(now)
    .setNotBefore(now + (f.nbf_offset ?? -60))
    .setExpirationTime(now + (f.exp_offset ?? 92 * 24 * 3600))
    .sign(eseal.privateKey);
  return { id, jwt };
}

// The envelope claims of a login, made when the userinfo is asked for.
async function envelopeClaims(accountId) {
  const person = settings.persons[accountId];
  const verklaring = await makeVerklaring(person);
  return {
    loa_authn: faults.loa ?? 'http://eidas.europa.eu/LoA/high',
    json_schema: `${issuer}/json_schema.json`,
    verklaring_id: faults.envelope_verklaring_id ?? verklaring.id,
    verklaring: verklaring.jwt,
  };
}

const clientBase = {
  redirect_uris: settings.redirect_uris,
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code'],
  response_types: ['code'],
  subject_type: 'pairwise',
  id_token_signed_response_alg: 'RS256',
  userinfo_signed_response_alg: 'RS256',
};

const provider = new Provider(issuer, {
  clients: [
    {
      ...clientBase,
      client_id: settings.client_id,
      userinfo_encrypted_response_alg: 'RSA-OAEP',
      userinfo_encrypted_response_enc: 'A256CBC-HS512',
      jwks: portalJwks,
    },
    { ...clientBase, client_id: settings.acceptance_client_id },
  ],
  jwks: { keys: [platformJwk] },
  cookies: { keys: [randomUUID()] },
  pkce: { required: () => true },
  scopes: ['openid'],
  subjectTypes: ['public', 'pairwise'],
  claims: { openid: ['sub', 'loa_authn', 'json_schema', 'verklaring_id', 'verklaring'] },
  features: {
    devInteractions: { enabled: false },
    encryption: { enabled: true },
    userinfo: { enabled: true },
    jwtUserinfo: { enabled: true },
  },
  enabledJWA: {
    userinfoEncryptionAlgValues: ['RSA-OAEP'],
    userinfoEncryptionEncValues: ['A256CBC-HS512'],
  },
  pairwiseIdentifier: async (ctx, accountId, client) =>
    createHash('sha256').update(`${client.sectorIdentifier}|${accountId}|dezi`).digest('hex'),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  loadExistingGrant: async (ctx) => {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid');
    grant.addOIDCClaims(['loa_authn', 'json_schema', 'verklaring_id', 'verklaring']);
    await grant.save();
    return grant;
  },
  findAccount: async (ctx, accountId) => {
    if (!settings.persons[accountId]) return undefined;
    return {
      accountId,
      claims: async (use) =>
        use === 'userinfo' ? { sub: accountId, ...(await envelopeClaims(accountId)) } : { sub: accountId },
    };
  },
  ttl: { AccessToken: 300, AuthorizationCode: 60, IdToken: 300, Interaction: 600, Session: 600, Grant: 600 },
});

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

// Faults on what the provider issued, re-made with jose and the provider's own keys.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && faults.id_token) {
    const f = faults.id_token;
    const claims = decodeJwt(ctx.body.id_token);
    if (f.aud) claims.aud = f.aud;
    if (f.exp_offset !== undefined) claims.exp = Math.floor(Date.now() / 1000) + f.exp_offset;
    const kid = f.kid ?? 'platform-1';
    if (f.alg === 'none') {
      ctx.body = { ...ctx.body, id_token: `${b64({ alg: 'none', kid })}.${b64(claims)}.` };
    } else if (f.alg === 'HS256') {
      // Keyed with the platform's public key, as a confused verifier would check it.
      const secret = new TextEncoder().encode(JSON.stringify(await exportJWK(platform.publicKey)));
      const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(secret);
      ctx.body = { ...ctx.body, id_token: token };
    } else {
      const key = await importJWK(platformJwk, 'RS256');
      const token = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
      ctx.body = { ...ctx.body, id_token: token };
    }
  }
  if (ctx.path === '/me' && ctx.status === 200 && faults.userinfo) {
    // The provider's own signed userinfo can't be read back once encrypted: sign the same
    // kind of envelope again, with the fault, and encrypt it as asked.
    const f = faults.userinfo;
    const accountId = Object.keys(settings.persons).find((k) => k === faults.person) ?? faults.person;
    const claims = { ...(await envelopeClaims(accountId)), sub: 'x' };
    const key = await importJWK(platformJwk, 'RS256');
    const signed = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'platform-1' })
      .setIssuer(issuer).setAudience(f.aud ?? settings.client_id).setIssuedAt()
      .setExpirationTime('5m').sign(key);
    const to = f.to_stranger ? stranger.publicKey : await importJWK(portalJwks.keys[0], 'RSA-OAEP');
    ctx.body = await new CompactEncrypt(new TextEncoder().encode(signed))
      .setProtectedHeader({ alg: 'RSA-OAEP', enc: 'A256CBC-HS512', cty: 'JWT' }).encrypt(to);
    ctx.type = 'application/jwt';
  }
});

// The revocation list, signed by the platform.
// Faults: `list_padding` adds that many other revocations (a list of realistic size);
// `list_by_eseal` signs it with the eSeal key and names the allowed jku, as a holder of an
// eSeal key could.
async function signedList() {
  const revocaties = [...revoked].map(([verklaringId, at]) => ({ verklaringId, revocatieTijdstip: at }));
  for (let i = 0; i < (faults.list_padding ?? 0); i += 1) {
    revocaties.push({ verklaringId: `vk-padding-${i}`, revocatieTijdstip: '2026-01-01T00:00:00Z' });
  }
  const jwt = new SignJWT({ revocaties, ververs_tijdstip: new Date(Date.now() + 3600_000).toISOString() })
    .setIssuer(issuer).setIssuedAt();
  if (faults.list_by_eseal) {
    return jwt.setProtectedHeader({ alg: 'RS256', kid: 'eseal-1', jku, typ: 'JOSE' }).sign(eseal.privateKey);
  }
  return jwt.setProtectedHeader({ alg: 'RS256', kid: 'platform-1', typ: 'JOSE' })
    .sign(await importJWK(platformJwk, 'RS256'));
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  const url = new URL(req.url, issuer);
  const send = (status, type, body) => {
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  };
  try {
    if (url.pathname === '/eseal/jwks.json') {
      return send(200, 'application/json', JSON.stringify({ keys: [esealPublic] }));
    }
    if (url.pathname === '/jwks' && faults.hide_keys) {
      return send(200, 'application/json', JSON.stringify({ keys: [] }));
    }
    // A status endpoint that is not the platform's: says "actief" about anything, as a host
    // a forged revocation URL points to would.
    const elsewhere = url.pathname.match(/^\/elders\/status\/([^/]+)$/);
    if (elsewhere) {
      const id = decodeURIComponent(elsewhere[1]);
      return send(200, 'application/json', JSON.stringify({ verklaringId: id, status: 'actief' }));
    }
    const status = url.pathname.match(/^\/status\/v1\/verklaring\/([^/]+)$/);
    if (status) {
      const id = decodeURIComponent(status[1]);
      if (revoked.has(id)) {
        return send(404, 'application/problem+json', JSON.stringify({
          type: 'about:blank', title: 'Not Found', status: 404, detail: 'verklaring niet actief',
        }));
      }
      return send(200, 'application/json', JSON.stringify({ verklaringId: id, status: 'actief' }));
    }
    if (url.pathname === '/revocatiecontrole/v1') {
      return send(200, 'application/jose', await signedList());
    }
    const interaction = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (interaction) {
      const details = await provider.interactionDetails(req, res);
      if (interaction[2] && req.method === 'POST') {
        const body = await new Promise((resolve) => {
          let data = '';
          req.on('data', (c) => { data += c; });
          req.on('end', () => resolve(new URLSearchParams(data)));
        });
        const accountId = body.get('person');
        if (!settings.persons[accountId]) return send(400, 'text/plain', 'unknown person');
        faults.person = accountId;
        return provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
      }
      // The page a person sees: one button per demo person.
      const buttons = Object.entries(settings.persons).map(([login, p]) =>
        `<button name="person" value="${login}">${p.voorletters} ${p.voorvoegsel ?? ''} ${p.achternaam} (${p.rol_naam})</button>`).join('<br>');
      return send(200, 'text/html; charset=utf-8', `<!doctype html><html lang="nl"><head><title>Dezi (test)</title></head>
<body><main><h1>Inloggen met Dezi (testomgeving)</h1><form method="post" action="/interaction/${details.uid}/login">${buttons}</form></main></body></html>`);
    }
    return callback(req, res);
  } catch (e) {
    return send(500, 'text/plain', String(e));
  }
});

// --- the admin listener --------------------------------------------------------------------

// One HTTPS request to the provider itself, trusting its own certificate.
function call(method, target, { cookies = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const cookie = Object.entries(cookies).map(([k, v]) => `${k}=${v}`).join('; ');
    const req = httpsRequest(target, {
      method,
      ca: ownCa,
      headers: { cookie, ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    }, (res) => {
      res.resume();
      for (const c of res.headers['set-cookie'] ?? []) {
        const [pair] = c.split(';');
        const at = pair.indexOf('=');
        cookies[pair.slice(0, at)] = pair.slice(at + 1);
      }
      res.on('end', () => resolve({ status: res.statusCode, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// What a browser does from the authorize URL to the redirect back to the portal.
async function login(authorizeUrl, person) {
  const cookies = {};
  let step = await call('GET', authorizeUrl, { cookies });
  const interaction = new URL(step.location, issuer);
  step = await call('POST', new URL(`${interaction.pathname}/login`, issuer), {
    cookies, body: `person=${encodeURIComponent(person)}`,
  });
  while (step.location && step.location.startsWith(issuer)) {
    step = await call('GET', step.location, { cookies });
  }
  if (step.location && step.location.startsWith('/')) {
    step = await call('GET', new URL(step.location, issuer), { cookies });
  }
  return step.location;
}

const admin = createServer(async (req, res) => {
  const body = await new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => resolve(data ? JSON.parse(data) : {}));
  });
  const reply = (o) => {
    const text = JSON.stringify(o);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  try {
    if (req.url === '/login') return reply({ location: await login(body.url, body.person) });
    if (req.url === '/fault') {
      faults = { ...body, person: faults.person };
      return reply({});
    }
    if (req.url === '/revoke') {
      revoked.set(body.verklaring_id, new Date(Date.now() - 1000).toISOString());
      return reply({});
    }
    if (req.url === '/last') return reply({ verklaring_id: lastVerklaring });
    res.writeHead(404);
    return res.end();
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    return res.end(String(e.stack ?? e));
  }
});
const adminPort = await listen(admin);
console.log(JSON.stringify({ issuer, admin: `http://127.0.0.1:${adminPort}`, jku }));
