"""The job lifecycle behind every accepted music request."""
