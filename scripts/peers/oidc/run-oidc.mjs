// A real OpenID Connect provider on 127.0.0.1 for crier's sign-in tests
// (panva's oidc-provider, OpenID-certified). Env: OIDC_PORT (default 4455),
// OIDC_CLIENTS (JSON array of clients), OIDC_USERS (JSON object accountId ->
// claims). Its development login form accepts any password for a known
// account id. Dynamic client registration (POST /reg) is open, so each test
// registers a client with the redirect URI of the daemon it started (on a
// free port). Keys are generated at each start: tests fetch the JWKS.
//
// A client registered with `clock_skew_seconds` (a test-only metadata
// field) has its token requests answered as if the provider's clock were
// that far off: with -7200 its ID tokens are really issued and signed, and
// expired an hour before they arrive. Other clients see the real clock.
import { AsyncLocalStorage } from 'node:async_hooks';
import Provider from 'oidc-provider';

const skew = new AsyncLocalStorage();
const realNow = Date.now;
Date.now = () => realNow() + (skew.getStore() ?? 0) * 1000;

const port = Number(process.env.OIDC_PORT || 4455);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');
const users = JSON.parse(process.env.OIDC_USERS || JSON.stringify({
  author: { email: 'author@example.org', name: 'Ann Author', roles: ['author'] },
  approver: { email: 'approver@example.org', name: 'Abe Approver', roles: ['approver'] },
  admin: { email: 'admin@example.org', name: 'Ada Admin', roles: ['admin', 'author'] },
  visitor: { email: 'visitor@example.org', name: 'Vic Visitor', roles: ['reader'] },
}));

const provider = new Provider(issuer, {
  clients,
  async findAccount(_ctx, id) {
    if (!users[id]) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...users[id] }; } };
  },
  claims: { openid: ['sub'], email: ['email'], profile: ['name'], roles: ['roles'] },
  scopes: ['openid', 'email', 'profile', 'roles'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    registration: { enabled: true },
  },
  conformIdTokenClaims: false, // the requested claims in the ID token, as Entra ID sends `roles`
  extraClientMetadata: {
    properties: ['clock_skew_seconds'],
    validator(_ctx, key, value) {
      if (key === 'clock_skew_seconds' && value !== undefined && !Number.isInteger(value)) {
        throw new Error('clock_skew_seconds must be an integer');
      }
    },
  },
});

// The token endpoint, for a client with a skewed clock, runs on its clock.
provider.use(async (ctx, next) => {
  const basic = ctx.method === 'POST' && ctx.path === '/token'
    && /^Basic (.+)$/i.exec(ctx.get('authorization'));
  if (!basic) return next();
  const id = decodeURIComponent(Buffer.from(basic[1], 'base64').toString().split(':')[0]);
  const client = await provider.Client.find(id);
  const seconds = client?.metadata().clock_skew_seconds;
  return seconds ? skew.run(seconds, next) : next();
});
provider.listen(port, '127.0.0.1', () => console.log(`oidc provider ${issuer}`));
