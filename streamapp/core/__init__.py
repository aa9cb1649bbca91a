"""The connector core: the contract every connector keeps, and the machinery every sink shares.

* :mod:`.contract`: what the operations layer (health, metrics, the REST API) may know of a
  connector: start/stop through Faust, pause/resume, and a typed :class:`~.contract.ConnectorStatus`.
* :mod:`.registry`: connector types by Connect class name.
* :mod:`.sink`: the sink base (Kafka records in, confirmed deliveries out, at least once).
* :mod:`.dispatch`: bounded, per-key ordered delivery and the per-partition delivered watermark.
* :mod:`.offsets`: the delivered-offset table.
* :mod:`.policy`: the one error policy (retry, then stop, skip or dead-letter).
* :mod:`.dead_letters`: record failures and the dead-letter topic, with Connect's headers.
* :mod:`.retry`: the one exponential back-off.
"""
