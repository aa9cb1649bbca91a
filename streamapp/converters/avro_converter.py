"""``io.confluent.connect.avro.AvroConverter``: Confluent wire format <-> Connect data.

The wire format is a magic byte 0, the schema id (4 bytes, big-endian) and the Avro binary
encoding of the value with that (writer) schema. The Avro <-> Connect mapping is Confluent's
``AvroData``, in :mod:`streamapp.converters.avro_data` (union branches as written, maps with
non-string keys, ``connect.*`` metadata, recursive and schemaless schemas, the AvroDataConfig
options); decoding and encoding use fastavro.

Registry I/O is asynchronous and happens only in the ``prepare_*`` hooks (see
:mod:`streamapp.converters.base`): ``prepare_to_connect`` fetches a writer schema the first time
its id is seen (and its version under the subject, which becomes the Connect schema's version,
so ``${value.version}`` is the registry version); ``prepare_from_connect`` registers (or looks up)
the Avro schema for a Connect schema under the subject naming strategy. The synchronous
``to_connect`` / ``from_connect`` then work from the caches only.

Errors: an unreachable registry raises :class:`RegistryUnavailableError` (retriable: the caller
waits and retries, nothing is acked); an unknown schema id, a corrupt payload or a schema Connect
cannot represent raise :class:`ConversionError` (a record error).
"""

from __future__ import annotations

import io
import ssl
from dataclasses import dataclass
from typing import Any

from streamapp.config.converter_options import AVRO_CONVERTER, AvroConverterOptions
from streamapp.data import DataError, Schema, SchemaAndValue, Struct
from streamapp.errors import ConfigError

from .avro_data import AvroData, Reader, Writer, read_data
from .avro_schema import AvroDataOptions
from .avro_to_connect import READ_OPTIONS
from .base import NULL
from .errors import ConversionError, excerpt
from .json_values import BoundedCache
from .registry_client import (
    SCHEMA_NOT_FOUND,
    RegistryClient,
    RegistryRequestError,
    RegistryUnavailableError,
)

__all__ = ["AvroConverter", "data_options", "subject_name"]

_BytesIO = io.BytesIO
_NEW = object.__new__
_PAIR = tuple.__new__

MAGIC = 0
_HEADER = 5
_TOPIC_NAME = "io.confluent.kafka.serializers.subject.TopicNameStrategy"
_RECORD_NAME = "io.confluent.kafka.serializers.subject.RecordNameStrategy"
_TOPIC_RECORD_NAME = "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy"


def subject_name(strategy: str, topic: str, is_key: bool, avro: Any) -> str:
    """The registry subject for a schema under Confluent's subject naming strategies."""
    if strategy == _TOPIC_NAME:
        return f"{topic}-{'key' if is_key else 'value'}"
    name = _record_full_name(avro)
    if name is None:
        raise ConversionError(f"{strategy.rsplit('.', 1)[-1]} needs a record schema, got {str(avro)[:80]}")
    return name if strategy == _RECORD_NAME else f"{topic}-{name}"


def _record_full_name(avro: Any) -> str | None:
    if not isinstance(avro, dict) or avro.get("type") != "record":
        return None
    name = avro["name"]
    namespace = avro.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A writer schema by id, ready: its Connect schema carries the registry version.

    The reader's parts are copied here so the hot path makes one attribute access for each.
    """

    schema_id: int
    parsed: Any
    named: Any
    schema: Schema | None
    plain_schema: Schema | None
    adapt: Any

    @classmethod
    def of(cls, schema_id: int, reader: Reader) -> _Prepared:
        return cls(schema_id, reader.parsed, reader.named, reader.schema, reader.plain_schema, reader.adapt)


@dataclass(frozen=True, slots=True)
class _Registered:
    header: bytes  # magic byte and the registered schema id
    writer: Writer


def data_options(options: AvroConverterOptions) -> AvroDataOptions:
    """The AvroData options among the converter's."""
    return AvroDataOptions(
        connect_meta_data=options.connect_meta_data,
        enhanced_avro_schema_support=options.enhanced_avro_schema_support,
        generalized_sum_type_support=options.generalized_sum_type_support,
        scrub_invalid_names=options.scrub_invalid_names,
        allow_optional_map_keys=options.allow_optional_map_keys,
        flatten_singleton_unions=options.flatten_singleton_unions,
        ignore_default_for_nullables=options.ignore_default_for_nullables,
        discard_type_doc_default=options.discard_type_doc_default,
    )


class AvroConverter:
    class_name = AVRO_CONVERTER

    def __init__(
        self,
        options: AvroConverterOptions,
        *,
        is_key: bool = False,
        client: RegistryClient | None = None,
    ) -> None:
        self.options = options
        self.is_key = is_key
        self._which = "key" if is_key else "value"
        self._context = f"AvroConverter ({self._which})"
        self.strategy = options.key_subject_name_strategy if is_key else options.value_subject_name_strategy
        self.client = client or RegistryClient(
            list(options.schema_registry_url), auth=_auth(options), ssl_context=_ssl_context(options)
        )
        self.data = AvroData(data_options(options))
        # Converted schemas, at most schemas.cache.config of each (Confluent's cache size).
        size = max(1, options.schemas_cache_config)
        # topic -> header bytes -> _Prepared: one schema id has a version per subject, and the
        # subject follows the topic (TopicNameStrategy), so each topic has its own entries.
        self._by_topic: dict[str, BoundedCache] = {}
        self._converted: BoundedCache = BoundedCache(size)  # (schema id, version) -> Reader
        self._last_topic: str | None = None
        self._last_by_header: BoundedCache | None = None
        self._writers: BoundedCache = BoundedCache(size)  # (topic, schema) -> _Registered

    # ------------------------------------------------------------------ bytes -> Connect

    async def prepare_to_connect(self, topic: str, data: bytes | None) -> None:
        try:
            await self._prepare_reader(topic, data)
        except RegistryUnavailableError as exc:
            raise self._unavailable(exc) from None

    async def prepare_from_connect(self, topic: str, schema: Schema | None) -> None:
        try:
            await self._prepare_writer(topic, schema)
        except RegistryUnavailableError as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: RegistryUnavailableError) -> RegistryUnavailableError:
        if "check " in str(exc):
            return exc
        return RegistryUnavailableError(
            f"{self._context}: {exc}; check that the registry runs and is reachable at "
            f"{self._which}.converter.schema.registry.url"
        )

    async def _prepare_reader(self, topic: str, data: bytes | None) -> None:
        if data is None or len(data) < _HEADER or data[0] != MAGIC:
            return  # to_connect explains what is wrong
        header = bytes(data[:_HEADER])
        by_header = self._by_topic.get(topic)
        if by_header is None:
            by_header = self._by_topic[topic] = BoundedCache(self._converted.size)
        if header in by_header:
            return
        schema_id = int.from_bytes(header[1:], "big")
        try:
            avro = await self.client.schema_by_id(schema_id)
        except RegistryRequestError as exc:
            self._refused(exc)
            if exc.status == 404 or exc.error_code == SCHEMA_NOT_FOUND:
                raise ConversionError(
                    f"schema id {schema_id} is not in the Schema Registry (error_code {exc.error_code}); "
                    "the record was written against another registry, or its bytes are corrupt",
                    context=self._context,
                ) from None
            raise ConversionError(str(exc), context=self._context) from None
        version = None
        try:
            subject = subject_name(self.strategy, topic, self.is_key, avro)
            _, version = await self.client.lookup(subject, avro)
        except (RegistryRequestError, ConversionError) as exc:
            if isinstance(exc, RegistryRequestError):
                self._refused(exc)
            # The schema is not under this subject (e.g. written with another naming strategy):
            # the record still converts; only ${value.version} has nothing to show.
        reader = self._converted.get((schema_id, version))
        if reader is None:
            try:
                reader = self._converted.put((schema_id, version), self.data.reader(avro, version))
            except DataError as exc:
                raise ConversionError(f"schema id {schema_id}: {exc}", context=self._context) from None
        by_header.put(header, _Prepared.of(schema_id, reader))

    def to_connect(self, topic: str, data: bytes | None) -> SchemaAndValue:
        if data is None:
            return NULL
        if type(data) is not bytes:
            data = bytes(data)
        # The 5-byte header (magic byte and schema id) is the cache key: one slice and one
        # lookup replace the magic check and the id parsing on the hot path.
        if topic is self._last_topic:  # records come in runs of one topic: skip a lookup
            by_header = self._last_by_header
        else:
            by_header = self._by_topic.get(topic)
            if by_header is not None:
                self._last_topic, self._last_by_header = topic, by_header
        prepared = None if by_header is None else by_header.get(data[:_HEADER])
        if prepared is None:
            prepared = self._reader_for(data)
        buffer = _BytesIO(data)
        buffer.seek(_HEADER)
        try:
            value = read_data(buffer, prepared.parsed, prepared.named, None, READ_OPTIONS)
        except Exception as exc:  # noqa: BLE001 - fastavro raises EOFError, ValueError, UnicodeDecodeError...
            raise ConversionError(
                f"corrupt Avro payload for schema id {prepared.schema_id}: {type(exc).__name__}: "
                f"{str(exc)[:120]} ({len(data)} bytes: {excerpt(data, 24)})",
                context=self._context,
            ) from None
        if buffer.tell() != len(data):
            raise ConversionError(
                f"corrupt Avro payload for schema id {prepared.schema_id}: {len(data) - buffer.tell()} bytes "
                f"left over after the value ({len(data)} bytes: {excerpt(data, 24)})",
                context=self._context,
            )
        if value is None:
            return NULL  # a null in an optional top-level schema: Confluent returns no schema either
        plain = prepared.plain_schema
        if plain is not None:  # a record of plain fields: its Struct, inlined (the most common value)
            struct = _NEW(Struct)
            struct._schema = plain
            struct._values = value  # fastavro's new dict of the fields, in field order
            value = struct
        elif prepared.adapt is not None:
            try:
                value = prepared.adapt(value)
            except DataError as exc:
                raise ConversionError(exc.reason, location=exc.location, context=self._context) from None
        return _PAIR(SchemaAndValue, (prepared.schema, value))  # the NamedTuple without its Python-level __new__

    def _reader_for(self, data: bytes) -> _Prepared:
        """The slow path of to_connect: explain a bad header, or a schema not fetched."""
        if len(data) < _HEADER or data[0] != MAGIC:
            raise ConversionError(
                f"not Confluent Avro: expected magic byte 0 and a 4-byte schema id, got {excerpt(data, 16)}",
                context=self._context,
            )
        schema_id = int.from_bytes(data[1:_HEADER], "big")
        raise ConversionError(
            f"schema id {schema_id} was not fetched (prepare_to_connect was not awaited)", context=self._context
        )

    # ------------------------------------------------------------------ Connect -> bytes

    async def _prepare_writer(self, topic: str, schema: Schema | None) -> None:
        if (topic, schema) in self._writers:
            return
        what = schema.label() if schema is not None else "a schemaless value"
        try:
            writer = self.data.writer(schema)
        except DataError as exc:
            raise ConversionError(f"cannot express {what} in Avro: {exc}", context=self._context) from None
        avro = writer.avro
        subject = subject_name(self.strategy, topic, self.is_key, avro)
        try:
            if self.options.use_latest_version:
                schema_id, _, latest = await self.client.latest(subject)
                writer = self._latest_writer(writer, latest, subject)
            elif self.options.auto_register_schemas:
                schema_id = await self.client.register(subject, avro)
            else:
                schema_id, _ = await self.client.lookup(subject, avro)
        except RegistryRequestError as exc:
            self._refused(exc)
            raise ConversionError(f"subject '{subject}': {exc}", context=self._context) from None
        header = bytes([MAGIC]) + schema_id.to_bytes(4, "big")
        self._writers.put((topic, schema), _Registered(header, writer))

    def _latest_writer(self, writer: Writer, latest: Any, subject: str) -> Writer:
        """use.latest.version: the value is written with the subject's latest schema (fields matched by name)."""
        import fastavro

        from .avro_from_connect import strip_logical_types

        try:
            parsed = fastavro.parse_schema(strip_logical_types(latest))
        except Exception as exc:  # noqa: BLE001 - fastavro's SchemaParseException and friends
            raise ConversionError(
                f"subject '{subject}': invalid latest Avro schema: {exc}", context=self._context
            ) from None
        return Writer(latest, parsed, writer.encode)

    def from_connect(self, topic: str, schema: Schema | None, value: Any) -> bytes | None:
        if value is None:
            if schema is not None and not schema.optional and schema.default is None:
                raise ConversionError(f"null value for required {schema.label()}", context=self._context)
            return None
        registered = self._writers.get((topic, schema))
        if registered is None:
            what = schema.label() if schema is not None else "schemaless values"
            raise ConversionError(
                f"no registered schema for {what} (prepare_from_connect was not awaited)", context=self._context
            )
        buffer = _BytesIO()
        buffer.write(registered.header)
        try:
            self.data.write(registered.writer, value, buffer)
        except DataError as exc:
            raise ConversionError(exc.reason, location=exc.location, context=self._context) from None
        except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
            what = schema.label() if schema is not None else "a schemaless value"
            raise ConversionError(
                f"value does not fit {what}: {type(exc).__name__}: {str(exc)[:160]}", context=self._context
            ) from None
        return buffer.getvalue()

    async def close(self) -> None:
        await self.client.close()

    def _refused(self, exc: RegistryRequestError) -> None:
        """Auth failures are not the record's fault: retry (and say what to check) instead of dead-lettering."""
        if exc.status in (401, 403):
            raise RegistryUnavailableError(
                f"{exc}; check {self._which}.converter.basic.auth.credentials.source and "
                f"{self._which}.converter.basic.auth.user.info"
            ) from None


def _auth(options: AvroConverterOptions) -> tuple[str, str] | None:
    if options.basic_auth_credentials_source != "USER_INFO":
        return None
    user, _, password = options.basic_auth_user_info.get_secret_value().partition(":")
    return user, password


def _ssl_context(options: AvroConverterOptions) -> ssl.SSLContext | None:
    no_files = not (options.ssl_truststore_location or options.ssl_keystore_location)
    if no_files and options.ssl_endpoint_identification_algorithm:
        return None  # the default context of aiohttp: system CAs, hostname checked
    try:
        context = ssl.create_default_context(cafile=options.ssl_truststore_location or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot read the PEM truststore {options.ssl_truststore_location!r}: {exc}",
            key="schema.registry.ssl.truststore.location",
        ) from None
    if not options.ssl_endpoint_identification_algorithm:
        context.check_hostname = False  # Connect's empty endpoint.identification.algorithm
    if options.ssl_keystore_location:
        password = options.ssl_key_password.get_secret_value() or options.ssl_keystore_password.get_secret_value()
        try:
            context.load_cert_chain(options.ssl_keystore_location, password=password or None)
        except (OSError, ssl.SSLError) as exc:
            # The exception text never includes the password; keep it that way.
            raise ConfigError(
                f"cannot load the PEM keystore {options.ssl_keystore_location!r}: {exc}",
                key="schema.registry.ssl.keystore.location",
            ) from None
    return context
