"""Connector implementations by destination (see streamapp.connector_types for their registration)."""
