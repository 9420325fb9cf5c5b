"""SOP definitions: the YAML format, its validation and its compiled form.

Importing this package is cheap; the pydantic models load only when a definition is
validated (:mod:`sopengine.definition.loader`).
"""
