"""The tunetrack REST API under ``/api``: one router per area, and the JSON shapes they share
with :class:`~tunetrack.store.rest.RestStore` (:mod:`.schemas`)."""
