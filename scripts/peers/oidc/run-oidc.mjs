// A real OpenID Connect provider on 127.0.0.1 for crier's sign-in tests
// (panva's oidc-provider, OpenID-certified). Env: OIDC_PORT (default 4455),
// OIDC_CLIENTS (JSON array of clients), OIDC_USERS (JSON object accountId ->
// claims). Its development login form accepts any password for a known
// account id. Dynamic client registration (POST /reg) is open, so each test
// registers a client with the redirect URI of the daemon it started (on a
// free port). Keys are generated at each start: tests fetch the JWKS.
import Provider from 'oidc-provider';

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
});
provider.listen(port, '127.0.0.1', () => console.log(`oidc provider ${issuer}`));
