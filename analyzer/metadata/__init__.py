"""The metadata engine: which versions and files a project has, and what each version requires."""
