// tokens.mjs - keys and hand-made tokens for the end-to-end tests of the server's JWT checks.
//
//   node tokens.mjs keys KID            prints a JWKS holding one new RS256 private key
//   node tokens.mjs sign < REQUEST      prints a compact JWS
//   node tokens.mjs pem < JWK           prints the public half of a JWK as SPKI PEM
//
// REQUEST: {"header": {...}, "claims": {...}, and either "jwk": a private JWK (RS256), or
//           "hmac_secret": a string to key HS256 with (the key-confusion forgery: HMAC keyed
//           with the provider's public key)}.
// The test asks for tokens the provider itself would never issue (expired, not yet valid, for
// another audience or issuer) signed with the provider's own key, so that only the claim under
// test is wrong.
import {
  CompactSign, exportJWK, exportSPKI, generateKeyPair, importJWK,
} from 'jose';

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function newKeys(kid) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' }] };
}

async function sign(request) {
  const payload = new TextEncoder().encode(JSON.stringify(request.claims));
  const key = request.hmac_secret !== undefined
    ? new TextEncoder().encode(request.hmac_secret)
    : await importJWK(request.jwk, 'RS256');
  return new CompactSign(payload).setProtectedHeader(request.header).sign(key);
}

async function publicPem(jwk) {
  const { kty, n, e } = jwk;
  return exportSPKI(await importJWK({ kty, n, e }, 'RS256'));
}

const [command, argument] = process.argv.slice(2);
if (command === 'keys') {
  console.log(JSON.stringify(await newKeys(argument ?? 'k1')));
} else if (command === 'sign') {
  console.log(await sign(JSON.parse(await readStdin())));
} else if (command === 'pem') {
  process.stdout.write(await publicPem(JSON.parse(await readStdin())));
} else {
  console.error('usage: tokens.mjs keys KID | tokens.mjs sign < REQUEST | tokens.mjs pem < JWK');
  process.exit(2);
}
