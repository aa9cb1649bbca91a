"""AvroConverter decoding rate against raw fastavro ``schemaless_reader``, measured in one run.

    .venv/bin/python bench/avro_converter.py [--records 50000] [--rounds 5]

Both decode the same Confluent-framed payloads (magic byte, schema id, Avro binary) of three
shapes: a flat record of primitives, a record with nested records/arrays/maps/optional fields,
and one with logical types (decimal, date, time-millis, timestamp-millis). Raw is fastavro alone
(skip the 5-byte header, ``schemaless_reader`` with the parsed writer schema: dicts). The
converter is ``to_connect`` after its schema was fetched once from the in-memory registry:
header check, cached writer schema, fastavro (keeping union branches), then the Connect Struct
(schema attached, fields in order); it calls the function schemaless_reader ends in (fastavro's
``_read_data``, checked at import), parsing each writer schema once instead of on every call.
The machine is shared and noisy, so the two are interleaved in chunks of 500 records (each chunk
timed with both, who goes first alternating) and each round's ratio compares time spent on the
same chunks moments apart; the median round is printed. Target: ratio converter / raw >= 0.85.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import decimal
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fastavro

from streamapp.config.converter_options import AvroConverterOptions
from streamapp.converters import make_converter
from streamapp.devstack.schema_registry import SchemaRegistryServer

UTC = dt.UTC
FLAT = {
    "type": "record",
    "name": "Trade",
    "namespace": "bench",
    "fields": [
        {"name": "symbol", "type": "string"},
        {"name": "price", "type": "double"},
        {"name": "qty", "type": "long"},
        {"name": "side", "type": {"type": "enum", "name": "Side", "symbols": ["BUY", "SELL"]}},
        {"name": "venue", "type": "string"},
        {"name": "ts", "type": "long"},
        {"name": "ok", "type": "boolean"},
        {"name": "id", "type": "int"},
    ],
}
NESTED = {
    "type": "record",
    "name": "Device",
    "namespace": "bench",
    "fields": [
        {"name": "id", "type": "string"},
        {
            "name": "reading",
            "type": {
                "type": "record",
                "name": "Reading",
                "fields": [{"name": "t", "type": "double"}, {"name": "unit", "type": "string"}],
            },
        },
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "long"}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "history", "type": {"type": "array", "items": "Reading"}},
    ],
}
LOGICAL = {
    "type": "record",
    "name": "Invoice",
    "namespace": "bench",
    "fields": [
        {"name": "no", "type": "long"},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "created", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}


def values(shape: str, n: int) -> list[dict]:
    if shape == "flat":
        return [
            {
                "symbol": f"S{i % 50}",
                "price": 100 + i / 7,
                "qty": i * 3,
                "side": "BUY" if i % 2 else "SELL",
                "venue": "XLON",
                "ts": 1_700_000_000_000 + i,
                "ok": bool(i % 3),
                "id": i,
            }
            for i in range(n)
        ]
    if shape == "nested":
        return [
            {
                "id": f"dev-{i}",
                "reading": {"t": i / 3, "unit": "C"},
                "tags": ["a", "b"],
                "attrs": {"x": i, "y": 2},
                "note": None if i % 2 else "n",
                "history": [{"t": 1.0, "unit": "C"}, {"t": 2.0, "unit": "F"}],
            }
            for i in range(n)
        ]
    return [
        {
            "no": i,
            "amount": decimal.Decimal(i).scaleb(-2),
            "day": dt.date(2024, 1, 1 + i % 28),
            "at": dt.time(12, 0, i % 60),
            "created": dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=i),
        }
        for i in range(n)
    ]


def frame(schema_id: int, parsed, value) -> bytes:
    buffer = io.BytesIO()
    buffer.write(b"\x00" + schema_id.to_bytes(4, "big"))
    fastavro.schemaless_writer(buffer, parsed, value)
    return buffer.getvalue()


CHUNK = 500


def one_round(payloads: list[bytes], parsed, to_connect, topic: str) -> tuple[float, float]:
    """(raw seconds, converter seconds) over all payloads, interleaved chunk by chunk."""
    reader = fastavro.schemaless_reader
    clock = time.perf_counter
    raw = conv = 0.0
    for number, start in enumerate(range(0, len(payloads), CHUNK)):
        chunk = payloads[start : start + CHUNK]
        for side in (0, 1) if number % 2 else (1, 0):  # alternate who goes first (warm caches)
            t0 = clock()
            if side == 0:
                for data in chunk:
                    buffer = io.BytesIO(data)
                    buffer.seek(5)
                    reader(buffer, parsed, None)
                raw += clock() - t0
            else:
                for data in chunk:
                    to_connect(topic, data)
                conv += clock() - t0
    return raw, conv


async def main(n: int, rounds: int) -> None:
    async with SchemaRegistryServer("127.0.0.1", 0) as registry:
        options = AvroConverterOptions.model_validate({"schema.registry.url": registry.url})
        converter = make_converter("io.confluent.connect.avro.AvroConverter", options, is_key=False)
        from streamapp.converters import avro_data

        print(f"{n} records per shape, median of {rounds} interleaved rounds; records/s")
        print(
            f"converter decodes with fastavro {fastavro.__version__} {avro_data.read_data.__name__} "
            "(schemaless_reader minus its per-call schema parse)"
        )
        print(f"{'shape':8} {'raw fastavro':>14} {'converter':>12} {'ratio':>7}")
        ratios = []
        for shape, schema in (("flat", FLAT), ("nested", NESTED), ("logical", LOGICAL)):
            schema_id = await converter.client.register(f"bench_{shape}-value", schema)
            parsed = fastavro.parse_schema(schema)
            payloads = [frame(schema_id, parsed, v) for v in values(shape, n)]
            await converter.prepare_to_connect(f"bench_{shape}", payloads[0])
            check = converter.to_connect(f"bench_{shape}", payloads[0])
            assert check.schema.version == 1 and check.value.schema is check.schema
            results = sorted(
                (one_round(payloads, parsed, converter.to_connect, f"bench_{shape}") for _ in range(rounds)),
                key=lambda r: r[0] / r[1],
            )
            raw, conv = results[len(results) // 2]  # the median round by ratio
            ratio = raw / conv
            ratios.append(ratio)
            print(f"{shape:8} {n / raw:14,.0f} {n / conv:12,.0f} {ratio:7.2f}")
        await converter.close()
        print(f"lowest ratio {min(ratios):.2f} (target >= 0.85)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.records, args.rounds))
