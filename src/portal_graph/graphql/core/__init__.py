"""What the domain packages use to write their GraphQL: the typed context, audiences and
permissions, payloads, Relay ids and connections, pagination and loaders. Nothing here
imports a domain or the assembly above (schema, execution, endpoint, limits)."""
