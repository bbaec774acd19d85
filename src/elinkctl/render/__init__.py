"""Rendering for people: the terminal card and list, documents (Markdown/HTML), the
stats report, SVG charts.

Pure string building, no I/O. Every piece of ticket text that reaches HTML
passes through `html.escape` here — titles and descriptions arrive from
mail and may carry markup.
"""
