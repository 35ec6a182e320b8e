// Starts GraphiQL. Its settings come from the data- attributes of #graphiql, so the page
// has no inline script and its Content-Security-Policy can forbid them.
"use strict";

{
  const TOKEN_KEY = "portal_graph_token";
  // Results that start or end a session: GraphiQL then signs every tab with it.
  const SIGN_IN_FIELDS = ["login", "acceptInvitation", "switchOrganization"];

  const LOGIN = `# Sign in. \`portal-graph seed-demo\` prints the demo login.
# After a successful login every tab sends its token, and the docs and autocompletion show
# what your role may use. To act as someone else in one tab, set that tab's Headers to
#   {"Authorization": "Bearer <another token>"}
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

  const LIVE = `# Live changes over a WebSocket (the stop button ends it). Admins hear of invitations:
# run "Invite" in another tab and watch emailStatus go QUEUED -> SENT. Anyone signed in can
# follow the jobs they may see instead:
#   subscription Jobs { jobUpdated { id reference status customer { name } } }
subscription Invitations {
  invitationUpdated { id email status emailStatus }
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

  function hasAuthorization(headers) {
    return Object.keys(headers || {}).some((name) => name.toLowerCase() === "authorization");
  }

  // A tab's own Authorization header wins; otherwise the signed-in token is sent.
  function signed(headers) {
    const own = withoutPlaceholder(headers) || {};
    const token = storedToken();
    return hasAuthorization(own) || !token ? own : { ...own, Authorization: `Bearer ${token}` };
  }

  // The token a result signs in with, null when it signs out, undefined when neither.
  function sessionChange(result) {
    const data = result && result.data;
    if (!data) return undefined;
    for (const field of SIGN_IN_FIELDS) {
      if (data[field] && data[field].token) return data[field].token;
    }
    if (data.logout && data.logout.ended) return null;
    return undefined;
  }

  // While it re-renders with a new schema, GraphiQL can send the previous tab's operation
  // name with this tab's document: drop a name the document does not define.
  function ownOperationName(params) {
    if (!params.operationName) return params;
    const names = [...String(params.query).matchAll(/\b(?:query|mutation|subscription)\s+(\w+)/g)]
      .map((match) => match[1]);
    return names.includes(params.operationName) ? params : { ...params, operationName: null };
  }

  // Whether the operation GraphiQL runs is a subscription (those go over the WebSocket).
  function isSubscription(params) {
    const operations = [
      ...String(params.query).replace(/#[^\n]*/g, "")
        .matchAll(/(?:^|[}\s])(query|mutation|subscription)\b\s*(\w*)/g),
    ].map((match) => ({ kind: match[1], name: match[2] }));
    const chosen = params.operationName
      ? operations.find((operation) => operation.name === params.operationName)
      : operations.length === 1 ? operations[0] : undefined;
    if (chosen) return chosen.kind === "subscription";
    // A name the document does not define (GraphiQL re-rendering): only subscriptions here?
    return operations.length > 0 && operations.every((op) => op.kind === "subscription");
  }

  // A subscription over graphql-transport-ws (the `graphql-ws` protocol), as an async
  // iterable of results: GraphiQL shows each one as it comes, and its stop button ends it.
  // The token goes in connection_init, as the API asks; the socket closes with the iterator.
  function subscribe(url, params, headers) {
    const queue = [];
    let wake = null;
    let done = false;
    const push = (item) => {
      queue.push(item);
      if (wake) wake();
    };
    const socket = new WebSocket(url, "graphql-transport-ws");
    socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: headers }));
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "connection_ack") {
        socket.send(JSON.stringify({ type: "subscribe", id: "1", payload: params }));
      } else if (message.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      } else if (message.type === "next") {
        push({ value: message.payload });
      } else if (message.type === "error") {
        push({ value: { errors: message.payload } });
        push({ end: true });
      } else if (message.type === "complete") {
        push({ end: true });
      }
    };
    socket.onclose = (event) => {
      if (event.code !== 1000) {
        push({ value: { errors: [{ message: `The subscription's connection closed: ` +
                                           `${event.code} ${event.reason}`.trim() }] } });
      }
      push({ end: true });
    };
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      async next() {
        while (!done) {
          const item = queue.shift();
          if (item === undefined) {
            await new Promise((resolve) => {
              wake = resolve;
            });
            wake = null;
          } else if (item.end) {
            done = true;
          } else {
            return { value: item.value, done: false };
          }
        }
        if (socket.readyState <= 1) socket.close(1000);
        return { value: undefined, done: true };
      },
      async return() {
        done = true;
        if (socket.readyState <= 1) {
          if (socket.readyState === 1) socket.send(JSON.stringify({ type: "complete", id: "1" }));
          socket.close(1000);
        }
        return { value: undefined, done: true };
      },
    };
  }

  function remember(token) {
    try {
      if (token) window.sessionStorage.setItem(TOKEN_KEY, token);
      else window.sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // storage refused (private mode): the session lasts as long as the page
    }
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
    const headers = "{}";
    const login = { query: LOGIN, headers };
    const jobs = { query: JOBS, headers };
    const invite = { query: INVITE, variables: INVITE_VARIABLES, headers };
    const live = { query: LIVE, headers };

    // Plain JSON results (the API has no @defer/@stream), so results can be read here.
    const httpFetcher = GraphiQL.createFetcher({ url: endpoint, enableIncrementalDelivery: false });
    const root = ReactDOM.createRoot(container);
    let schema; // undefined: GraphiQL introspects by itself (signed, through the fetcher)

    // Each audience has a schema of its own, so a new session means a new schema: fetch it
    // and hand it to GraphiQL, which keeps its tabs and results.
    async function refreshSchema() {
      const query = await (await fetch("/static/introspection.graphql")).text();
      const result = await httpFetcher({ query, operationName: "IntrospectionQuery" },
                                       { headers: signed({}) });
      if (result && result.data) {
        schema = result.data;
        render();
        container.dataset.schemaFor = storedToken() ? "signed-in" : "anonymous";
      }
    }

    const wsUrl = `${window.location.protocol === "https:" ? "wss:" : "ws:"}//` +
      `${window.location.host}${endpoint}`;

    async function fetcher(params, options) {
      if (isSubscription(params)) {
        return subscribe(wsUrl, ownOperationName(params), signed(options?.headers));
      }
      const result = await httpFetcher(ownOperationName(params),
                                       { ...options, headers: signed(options?.headers) });
      const change = sessionChange(result);
      if (change !== undefined && change !== storedToken()) {
        remember(change);
        refreshSchema();
      }
      return result;
    }

    function render() {
      root.render(
        React.createElement(GraphiQL, {
          fetcher,
          schema,
          defaultHeaders: headers,
          defaultQuery: JOBS,
          // Signed in already (from the accept page): start where the data is.
          defaultTabs: token ? [jobs, login, invite, live] : [login, jobs, invite, live],
          defaultEditorToolsVisibility: "headers",
          // Tokens are secrets: keep them out of localStorage.
          shouldPersistHeaders: false,
        }),
      );
    }

    render();
  }

  start();
}
