// Starts GraphiQL. Its settings come from the data- attributes of #graphiql, so the page
// has no inline script and its Content-Security-Policy can forbid them.
"use strict";

{
  const TOKEN_KEY = "portal_graph_token";
  const PLACEHOLDER = "<paste a token from login or acceptInvitation>";

  const LOGIN = `# Sign in. \`portal-graph seed-demo\` prints the demo login.
# Then copy "token" from the result into the Headers tab below:
#   {"Authorization": "Bearer <token>"}
# Someone in several organizations adds organizationId: "<id>" to the input.
mutation Login {
  login(input: {email: "admin@demo.example", password: "demo-admin-password"}) {
    token
    userErrors { code message }
  }
}
`;

  const JOBS = `# The jobs you may see. External users see only completed jobs of their customers.
{
  jobs(first: 10) {
    edges { node { id reference title status customer { name } } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
`;

  const INVITE = `# Invite an external user (admins only).
# 1. Run "Customers" and put a customer id into the variables below.
# 2. Run "Invite": the result carries the invite link, shown this once.
query Customers {
  customers(first: 20) { edges { node { id name } } }
}

mutation Invite($input: InviteExternalUserInput!) {
  inviteExternalUser(input: $input) {
    invitation { id email status expiresAt emailStatus }
    inviteUrl
    userErrors { code field message }
  }
}
`;

  const INVITE_VARIABLES = JSON.stringify(
    {
      input: {
        email: "contact@client.example",
        name: "Client Contact",
        customerIds: ["<customer id from Customers>"],
      },
    },
    null,
    2,
  );

  function storedToken() {
    try {
      return window.sessionStorage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  }

  // The untouched placeholder is not a token: send no Authorization header instead of a
  // bad one, so logging in and introspection work before a token is pasted.
  function withoutPlaceholder(headers) {
    if (!headers) return headers;
    return Object.fromEntries(
      Object.entries(headers).filter(
        ([name, value]) =>
          name.toLowerCase() !== "authorization" || !String(value).includes("<paste"),
      ),
    );
  }

  function start() {
    const container = document.getElementById("graphiql");
    const { endpoint, cdn } = container.dataset;
    const { React, ReactDOM, GraphiQL } = window;
    if (!React || !ReactDOM || !GraphiQL) {
      document.getElementById("graphiql-status").textContent =
        `GraphiQL could not be loaded from ${cdn}. If this machine has no internet access, ` +
        `set GRAPHIQL_CDN_URL to a mirror of react@18, react-dom@18 and graphiql@3. ` +
        `The API still answers POST requests at ${endpoint}.`;
      return;
    }

    const token = storedToken();
    const headers = JSON.stringify({ Authorization: `Bearer ${token || PLACEHOLDER}` }, null, 2);
    const login = { query: LOGIN, headers };
    const jobs = { query: JOBS, headers };
    const invite = { query: INVITE, variables: INVITE_VARIABLES, headers };

    const httpFetcher = GraphiQL.createFetcher({ url: endpoint });
    const fetcher = (params, options) =>
      httpFetcher(params, { ...options, headers: withoutPlaceholder(options?.headers) });

    ReactDOM.createRoot(container).render(
      React.createElement(GraphiQL, {
        fetcher,
        defaultHeaders: headers,
        defaultQuery: JOBS,
        // Signed in already (from the accept page): start where the data is.
        defaultTabs: token ? [jobs, login, invite] : [login, jobs, invite],
        defaultEditorToolsVisibility: "headers",
        // Tokens are secrets: keep them out of localStorage.
        shouldPersistHeaders: false,
      }),
    );
  }

  start();
}
