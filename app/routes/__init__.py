"""Routers: each route validates, calls the grading service, and returns."""
