"""HTTP edge of the API: request guards and GraphQL-over-HTTP request parsing."""
