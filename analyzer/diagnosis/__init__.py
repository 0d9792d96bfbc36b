"""Diagnosis: answers computed on top of the resolver.

- ``installable``: is the request installable on the target at all?
- ``pipcheck``: ``pip check`` over a set of installed versions.
- ``pip_prediction``: what ``pip install SPEC`` would change and break.
- ``graph``: the image's requirement graph; ``why``: who requires a name.
- ``conflict_set``: the minimal conflicting set, from ``fastdiag`` (the pure core), ``search`` (questions to the
  resolver) and ``explain`` (why each member moves); ``suggestions``: what fits instead.

Modules are imported by name (``from analyzer.diagnosis.pip_prediction import predict``) so that importing one
answer never pulls in the others.
"""
