// A real OAuth server for the end-to-end tests: oidc-provider on loopback,
// with a client for the client credentials grant, resource indicators
// (RFC 8707), introspection for the protected MCP server, and revocation.
//   PORT=... node oidc-server.mjs
import Provider from 'oidc-provider';

const port = process.env.PORT;
const issuer = `http://127.0.0.1:${port}`;
const resource = process.env.MCP_RESOURCE; // the protected MCP server's URL

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
      defaultResource: () => resource,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) throw new Error(`unknown resource ${indicator}`);
        return { scope: 'mcp', accessTokenFormat: 'opaque', accessTokenTTL: 3600 };
      },
    },
    devInteractions: { enabled: false },
  },
  scopes: ['mcp'],
});
// Plain http is fine on loopback for the tests.
provider.proxy = true;
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
