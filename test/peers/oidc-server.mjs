// A real OAuth server for the end-to-end tests: oidc-provider on loopback,
// with a client for the client credentials grant, resource indicators
// (RFC 8707), introspection for the protected MCP server, and revocation.
//   PORT=... MCP_RESOURCE="url [url...]" node oidc-server.mjs
// MCP_RESOURCE names the protected MCP servers, space-separated: tokens
// are minted for any of them (the first by default).
// With OIDC_CIMD=1 it also accepts client ID metadata documents, fetched
// from wherever the client_id URL points: loopback too (the tests serve
// the document there over https, trusted through NODE_EXTRA_CA_CERTS).
import Provider from 'oidc-provider';

const port = process.env.PORT;
const issuer = `http://127.0.0.1:${port}`;
const resources = (process.env.MCP_RESOURCE || '').split(' ').filter(Boolean); // the protected MCP servers' URLs

const provider = new Provider(issuer, {
  clients: [
    { client_id: 'svc', client_secret: 's3cret', grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
    // The MCP server, for introspection.
    { client_id: 'mcp-server', client_secret: 'introspect', grant_types: [], redirect_uris: [], response_types: [] },
  ],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resources[0],
      getResourceServerInfo: (ctx, indicator) => {
        if (!resources.includes(indicator)) throw new Error(`unknown resource ${indicator}`);
        return { scope: 'mcp write', accessTokenFormat: 'opaque', accessTokenTTL: 3600 };
      },
    },
    // The login and consent pages the tests fill in as a browser would.
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    registration: { enabled: true },
    clientIdMetadataDocument: { enabled: process.env.OIDC_CIMD === '1', ack: 'draft-02' },
  },
  // oidc-provider refuses to fetch from special-use addresses (loopback
  // among them); the tests' documents are on loopback.
  fetch: (url, options) => {
    delete options.dispatcher;
    return fetch(url, options);
  },
  scopes: ['mcp', 'write', 'offline_access'],
  // Refresh tokens for every grant that can have one, rotated on use.
  issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  // Consent is given at every login: accept every requested scope and
  // resource, as a user clicking "continue" would (a step-up's login asks
  // for more than the first, and gets it).
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    const grant = (grantId && await ctx.oidc.provider.Grant.find(grantId))
      || new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid offline_access');
    const asked = String(ctx.oidc.params?.scope || '').split(' ').filter((s) => ['mcp', 'write', 'offline_access'].includes(s));
    for (const resource of resources) {
      grant.addResourceScope(resource, ['mcp', 'offline_access', ...asked].join(' '));
    }
    await grant.save();
    return grant;
  },
});
// Plain http is fine on loopback for the tests.
provider.proxy = true;
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
