"""Jinja2 templates of the Markdown and HTML reports (loaded with PackageLoader)."""
