"""Public share links to saved tracks."""
