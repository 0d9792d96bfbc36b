"""Diagnosis: answers computed on top of the resolver.

- ``installable``: is the request installable on the target at all?
- ``pipcheck``: ``pip check`` over a set of installed versions.
- ``pip_prediction``: what ``pip install SPEC`` would change and break.
- ``conflict_set``, ``graph``, ``suggestions``: the minimal conflicting set and what fits instead.

Modules are imported by name (``from analyzer.diagnosis.pip_prediction import predict``) so that importing one
answer never pulls in the others.
"""
