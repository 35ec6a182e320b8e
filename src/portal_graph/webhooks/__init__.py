"""Webhooks: events POSTed to endpoints, each filtered through its owner's scope, signed per
the Standard Webhooks spec, delivered by a leasing worker like the email outbox."""
