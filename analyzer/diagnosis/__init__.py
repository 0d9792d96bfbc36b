"""Diagnosis: answers computed on top of the resolver (DEVELOPERS.md lists its modules).

Modules are imported by name, so that importing one answer never pulls in the others.
"""
