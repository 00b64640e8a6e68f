"""Authentication and authorization of ``tunetrack server --auth``.

:mod:`.credentials` hashes passwords (scrypt) and tokens (sha256); :mod:`.roles` says what a
role and an experiment grant allow; :mod:`.middleware` finds the user of each request (HTTP
Basic or Bearer) and :mod:`.policy` checks what the route asks of them. Users live in the
tracking database (:mod:`tunetrack.store.sql.users`).
"""
