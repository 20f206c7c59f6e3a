"""An account's saved tracks."""
