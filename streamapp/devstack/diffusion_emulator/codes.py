"""The numbers of the Diffusion client protocol (versions 25 to 29) that the emulator speaks.

Message types, service ids, topic type codes, connection response codes, error reason codes,
unsubscription reasons and update-constraint tags, as listed in
``docs/diffusion-protocol.md``. Keeping them in one module lets the rest of the package say
``ServiceId.SET_TOPIC`` instead of ``118``, and lets tests assert on names.
"""

from __future__ import annotations

import enum

__all__ = [
    "PROTOCOL_BYTE",
    "PYTHON_SDK_PROTOCOL_VERSION",
    "SELECTION_SCOPE_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "ConnectionResponseCode",
    "ConstraintTag",
    "ErrorReason",
    "MessageType",
    "ServiceId",
    "TopicAddResult",
    "TopicTypeCode",
    "UnsubscribeReason",
]

#: First byte of every connection response (``'#'``).
PROTOCOL_BYTE = 0x23
#: The Python SDK's protocol version (diffusion 6.12 on PyPI).
PYTHON_SDK_PROTOCOL_VERSION = 25
#: Versions the emulator speaks. 25 (Python SDK) and 29 (JavaScript client 6.12) are driven by the
#: real clients in the tests; 26 to 28 differ from them, for the services emulated here, only in
#: update-constraint encodings the emulator refuses anyway (see PROTOCOL.md). Each client demands
#: its own version back in the connection response, so there is no downgrade.
SUPPORTED_PROTOCOL_VERSIONS = frozenset(range(25, 30))
#: From this version on, SUBSCRIBE and UNSUBSCRIBE carry a selection scope after the selector.
SELECTION_SCOPE_VERSION = 29


class MessageType(enum.IntEnum):
    """Byte 0 of every WebSocket frame. The top bit (zlib) is never set by the emulator."""

    SERVICE_REQUEST = 0
    TOPIC_VALUE = 4
    TOPIC_DELTA = 5
    SERVICE_RESPONSE = 6
    SERVICE_ERROR = 7
    ABORT = 28
    #: C->S, empty: the JavaScript client's close; the server answers by closing the WebSocket.
    CLOSE_REQUEST = 29


class ServiceId(enum.IntEnum):
    """Service ids used by the bridge use-case (client requests and server notifications)."""

    SUBSCRIBE = 3
    UNSUBSCRIBE = 4
    NOTIFY_UNSUBSCRIPTION = 42
    SYSTEM_PING = 55
    USER_PING = 56
    TOPIC_REMOVAL = 83
    NOTIFY_SUBSCRIPTION = 87
    TOPIC_ADD = 112
    FETCH_QUERY = 117
    SET_TOPIC = 118
    ADD_AND_SET_TOPIC = 122
    # Update streams (JavaScript and Java clients): a stream id names a topic and a stream
    # instance; later values go by id, as full values (128) or binary deltas (129).
    CREATE_UPDATE_STREAM = 125
    CREATE_UPDATE_STREAM_AND_SET = 126
    CHECK_UPDATE_STREAM = 127
    STREAM_SET_TOPIC = 128
    STREAM_APPLY_DELTA = 129
    STREAM_ADD_TOPIC = 130
    STREAM_ADD_AND_SET_TOPIC = 131


class TopicTypeCode(enum.IntEnum):
    """Topic type byte in add/set requests and subscription notifications."""

    BINARY = 14
    JSON = 15
    TIME_SERIES = 16
    STRING = 17
    INT64 = 18
    DOUBLE = 19
    RECORD_V2 = 20
    UNKNOWN = 21


class ConnectionResponseCode(enum.IntEnum):
    """Byte 2 of the connection response."""

    OK = 100
    DOWNGRADE = 102
    RECONNECTED = 105
    REJECTED = 111
    LICENSE_EXCEEDED = 113
    RECONNECTION_UNSUPPORTED = 114
    CONNECTION_PROTOCOL_ERROR = 115
    AUTHENTICATION_FAILED = 116
    UNKNOWN_SESSION = 117
    RECONNECTION_FAILED_MESSAGE_LOSS = 118
    REJECTED_SERVER_INITIALISING = 119


class ErrorReason(enum.IntEnum):
    """``reason_code`` of a SERVICE_ERROR; the SDK maps each to an exception class."""

    ACCESS_DENIED = 103
    UNSUPPORTED = 104
    INVALID_DATA = 106
    INCOMPATIBLE_DATATYPE = 108
    INCOMPATIBLE_UPDATE = 500
    UPDATE_FAILED = 501
    MISSING_TOPIC = 503
    DELTA_WITHOUT_VALUE = 505
    NO_SUCH_TOPIC = 9000
    TOPIC_EXISTS_MISMATCH = 9004
    TOPIC_PATH_INVALID = 9005
    TOPIC_SPECIFICATION_INVALID = 9006
    INCOMPATIBLE_TOPIC_EXISTS = 9010
    UNEXPECTED_TOPIC_ADD_FAILURE = 9011
    UNSATISFIED_CONSTRAINT = 9012
    INVALID_UPDATE_STREAM = 9013


class UnsubscribeReason(enum.IntEnum):
    """Reason byte of NOTIFY_UNSUBSCRIPTION."""

    REQUESTED = 0
    CONTROL = 1
    REMOVAL = 2
    AUTHORIZATION = 3
    BACK_PRESSURE = 5
    BRANCH_MAPPINGS = 6


class TopicAddResult(enum.IntEnum):
    """Response byte of TOPIC_ADD and ADD_AND_SET_TOPIC."""

    CREATED = 0
    EXISTS = 1


class ConstraintTag(enum.IntEnum):
    """Tag byte of the update-constraint one-of that ends SET_TOPIC / ADD_AND_SET_TOPIC."""

    UNCONSTRAINED = 0
    CONJUNCTION = 1
    TOPIC_VALUE = 2
    NO_VALUE = 3
    LOCKED = 4
    NO_TOPIC = 5
    PARTIAL_JSON = 6
