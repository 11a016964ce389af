"""Publish: make validated data visible to readers (Athena views, ...)."""
