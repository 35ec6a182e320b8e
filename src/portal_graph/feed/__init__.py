"""The change feed: what changed in a viewer's view, in order, since a cursor it stored."""
