"""SQL that runs through a viewer's Scope: statements kept per shape and run with the scope's
values (shapes), keyset pages (pagination) and rows by id (rows); and the leases the workers
take on due rows (leases). It sits on scope.py, which sits on db/; nothing in db/ imports it."""
