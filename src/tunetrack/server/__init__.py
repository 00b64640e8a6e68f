"""The tracking server: one FastAPI app (:func:`tunetrack.server.app.create_app`) serving the
tunetrack REST API and the artifact proxy over one store.

Importing this package is light: the app, FastAPI and the store load from the submodules.
"""
