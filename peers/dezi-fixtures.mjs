// Makes fixtures/dezi/ (run from peers/: node dezi-fixtures.mjs ../fixtures/dezi): a portal RSA key
// and a userinfo JWE around a signed envelope, made by panva's jose, which zvp did not write.
import { writeFileSync } from 'node:fs';
import { generateKeyPair, exportPKCS8, exportJWK, CompactEncrypt, SignJWT } from 'jose';
const out = process.argv[2];
const portal = await generateKeyPair('RSA-OAEP', { modulusLength: 2048, extractable: true });
const platform = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
const jwk = { ...(await exportJWK(platform.publicKey)), kid: 'platform-1', alg: 'RS256', use: 'sig' };
const envelope = await new SignJWT({ loa_authn: 'http://eidas.europa.eu/LoA/high', verklaring_id: 'v-1', verklaring: 'x.y.z' })
  .setProtectedHeader({ alg: 'RS256', kid: 'platform-1' })
  .setIssuer('https://dezi.example').setAudience('zvp-portal').setExpirationTime(4102444800).sign(platform.privateKey);
const jwe = await new CompactEncrypt(new TextEncoder().encode(envelope))
  .setProtectedHeader({ alg: 'RSA-OAEP', enc: 'A256CBC-HS512', cty: 'JWT' }).encrypt(portal.publicKey);
writeFileSync(`${out}/portal-key.pk8.pem`, await exportPKCS8(portal.privateKey));
writeFileSync(`${out}/platform-jwks.json`, JSON.stringify({ keys: [jwk] }, null, 1) + '\n');
writeFileSync(`${out}/userinfo.jwe`, jwe + '\n');
writeFileSync(`${out}/envelope.jws`, envelope + '\n');
