// provider.mjs - a real OpenID provider for the end-to-end tests: npm's oidc-provider (an
// OpenID Certified implementation) on 127.0.0.1, with the device flow, refresh tokens,
// revocation, and JWT access tokens for the audience the MLTF server checks.
//
//   node provider.mjs CONFIG.json
//
// CONFIG: {"port": P, "keys": "KEYS.json" (a JWKS with private keys, from `tokens.mjs keys`),
//          "client_id": "mltf-cli", "audience": "mltf", "access_token_ttl": seconds,
//          "groups": {"alice": ["cms"], ...}}
// Prints "ready <issuer>" on stdout once it listens. Its users are whoever logs in at its
// development login page (any name, any password): the test plays that person.
import fs from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;
const groups = config.groups ?? {};

const provider = new Provider(issuer, {
  jwks: JSON.parse(fs.readFileSync(config.keys, 'utf8')),
  clients: [{
    // A public client, as a command line on a laptop is: no secret, the device flow, and
    // refresh tokens to stay logged in.
    client_id: config.client_id,
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
  }],
  features: {
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
    // Access tokens become JWTs for the MLTF server's audience, which it verifies with the
    // provider's published keys (without resource indicators they would be opaque).
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:mltf',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'mltf',
        audience: config.audience,
        accessTokenFormat: 'jwt',
        accessTokenTTL: config.access_token_ttl,
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  ttl: {
    DeviceCode: 600,
    RefreshToken: 24 * 3600,
  },
  // The groups claim, as Keycloak's group mapper adds it.
  extraTokenClaims: (_ctx, token) => (token.kind === 'AccessToken'
    ? { groups: groups[token.accountId] ?? [] } : undefined),
});

provider.listen(config.port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
