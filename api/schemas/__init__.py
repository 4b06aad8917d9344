"""Request and response bodies of the public API, one module per resource (as ``api.routes``).

``common`` holds what every resource shares: the error shape, the base of request bodies and
the path-parameter ids; ``amounts`` the money fields of request bodies.
"""
