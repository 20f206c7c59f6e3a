"""Upstream music providers behind one interface."""
