"""An in-memory Confluent Schema Registry for the dev stack and the tests (``streamapp schema-registry``)."""

from .server import SchemaRegistryServer, run_schema_registry
from .store import SchemaStore

__all__ = ["SchemaRegistryServer", "SchemaStore", "run_schema_registry"]
