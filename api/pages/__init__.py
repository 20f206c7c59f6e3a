"""Server-rendered pages: the gallery and public share pages (no JavaScript)."""
