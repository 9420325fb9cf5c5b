"""Renderers: the SOP as people read it (terminal table, HTML document, Mermaid, Markdown)."""
