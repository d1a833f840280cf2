import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Message(_message.Message):
    __slots__ = ("id", "user_id", "content", "role", "created_at", "updated_at", "conversation_id", "status", "model", "parent_id", "sibling_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    SIBLING_IDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    content: str
    role: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    conversation_id: str
    status: str
    model: str
    parent_id: str
    sibling_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., content: _Optional[str] = ..., role: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., conversation_id: _Optional[str] = ..., status: _Optional[str] = ..., model: _Optional[str] = ..., parent_id: _Optional[str] = ..., sibling_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ChatRequest(_message.Message):
    __slots__ = ("message", "conversation_id")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    message: str
    conversation_id: str
    def __init__(self, message: _Optional[str] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class ChatResponse(_message.Message):
    __slots__ = ("message", "conversation_id", "is_ai_response")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    IS_AI_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    message: Message
    conversation_id: str
    is_ai_response: bool
    def __init__(self, message: _Optional[_Union[Message, _Mapping]] = ..., conversation_id: _Optional[str] = ..., is_ai_response: _Optional[bool] = ...) -> None: ...

class StreamMessageRequest(_message.Message):
    __slots__ = ("conversation_id", "follow")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    follow: bool
    def __init__(self, conversation_id: _Optional[str] = ..., follow: _Optional[bool] = ...) -> None: ...

class StreamMessageResponse(_message.Message):
    __slots__ = ("message", "is_end", "delta")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    IS_END_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    message: Message
    is_end: bool
    delta: ReplyDelta
    def __init__(self, message: _Optional[_Union[Message, _Mapping]] = ..., is_end: _Optional[bool] = ..., delta: _Optional[_Union[ReplyDelta, _Mapping]] = ...) -> None: ...

class GetHistoryRequest(_message.Message):
    __slots__ = ("conversation_id", "limit", "offset")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    limit: int
    offset: int
    def __init__(self, conversation_id: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class GetHistoryResponse(_message.Message):
    __slots__ = ("messages", "total", "conversation_id")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[Message]
    total: int
    conversation_id: str
    def __init__(self, messages: _Optional[_Iterable[_Union[Message, _Mapping]]] = ..., total: _Optional[int] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class ChatWithAIRequest(_message.Message):
    __slots__ = ("message", "conversation_id", "model", "temperature", "max_tokens", "client_message_id")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message: str
    conversation_id: str
    model: str
    temperature: float
    max_tokens: int
    client_message_id: str
    def __init__(self, message: _Optional[str] = ..., conversation_id: _Optional[str] = ..., model: _Optional[str] = ..., temperature: _Optional[float] = ..., max_tokens: _Optional[int] = ..., client_message_id: _Optional[str] = ...) -> None: ...

class ChatWithAIResponse(_message.Message):
    __slots__ = ("ai_message", "conversation_id", "model_used", "tokens_used", "created_at")
    AI_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_USED_FIELD_NUMBER: _ClassVar[int]
    TOKENS_USED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ai_message: str
    conversation_id: str
    model_used: str
    tokens_used: int
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, ai_message: _Optional[str] = ..., conversation_id: _Optional[str] = ..., model_used: _Optional[str] = ..., tokens_used: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Conversation(_message.Message):
    __slots__ = ("id", "title", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListConversationsRequest(_message.Message):
    __slots__ = ("limit", "offset")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    limit: int
    offset: int
    def __init__(self, limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class ListConversationsResponse(_message.Message):
    __slots__ = ("conversations", "total")
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[Conversation]
    total: int
    def __init__(self, conversations: _Optional[_Iterable[_Union[Conversation, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class ReplyDelta(_message.Message):
    __slots__ = ("message_id", "seq", "content", "from_seq")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    seq: int
    content: str
    from_seq: int
    def __init__(self, message_id: _Optional[str] = ..., seq: _Optional[int] = ..., content: _Optional[str] = ..., from_seq: _Optional[int] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("prompt_tokens", "completion_tokens", "total_tokens")
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    def __init__(self, prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ...) -> None: ...

class ReplyStart(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class ReplyDone(_message.Message):
    __slots__ = ("message", "usage")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    message: Message
    usage: Usage
    def __init__(self, message: _Optional[_Union[Message, _Mapping]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...

class UserMessageAck(_message.Message):
    __slots__ = ("user_message", "conversation_id")
    USER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    user_message: Message
    conversation_id: str
    def __init__(self, user_message: _Optional[_Union[Message, _Mapping]] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class ChatStreamEvent(_message.Message):
    __slots__ = ("ack", "start", "delta", "done")
    ACK_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    ack: UserMessageAck
    start: ReplyStart
    delta: ReplyDelta
    done: ReplyDone
    def __init__(self, ack: _Optional[_Union[UserMessageAck, _Mapping]] = ..., start: _Optional[_Union[ReplyStart, _Mapping]] = ..., delta: _Optional[_Union[ReplyDelta, _Mapping]] = ..., done: _Optional[_Union[ReplyDone, _Mapping]] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CancelReplyRequest(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class CancelReplyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChatModel(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "default")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ChatModel]
    default: str
    def __init__(self, models: _Optional[_Iterable[_Union[ChatModel, _Mapping]]] = ..., default: _Optional[str] = ...) -> None: ...

class SearchConversationsRequest(_message.Message):
    __slots__ = ("q", "limit", "offset")
    Q_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    q: str
    limit: int
    offset: int
    def __init__(self, q: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class SearchResult(_message.Message):
    __slots__ = ("conversation", "message_id", "snippet")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    conversation: Conversation
    message_id: str
    snippet: str
    def __init__(self, conversation: _Optional[_Union[Conversation, _Mapping]] = ..., message_id: _Optional[str] = ..., snippet: _Optional[str] = ...) -> None: ...

class SearchConversationsResponse(_message.Message):
    __slots__ = ("results", "total")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SearchResult]
    total: int
    def __init__(self, results: _Optional[_Iterable[_Union[SearchResult, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class RegenerateReplyRequest(_message.Message):
    __slots__ = ("message_id", "model", "temperature", "max_tokens", "client_message_id")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    model: str
    temperature: float
    max_tokens: int
    client_message_id: str
    def __init__(self, message_id: _Optional[str] = ..., model: _Optional[str] = ..., temperature: _Optional[float] = ..., max_tokens: _Optional[int] = ..., client_message_id: _Optional[str] = ...) -> None: ...

class EditMessageRequest(_message.Message):
    __slots__ = ("message_id", "content", "model", "temperature", "max_tokens", "client_message_id")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    content: str
    model: str
    temperature: float
    max_tokens: int
    client_message_id: str
    def __init__(self, message_id: _Optional[str] = ..., content: _Optional[str] = ..., model: _Optional[str] = ..., temperature: _Optional[float] = ..., max_tokens: _Optional[int] = ..., client_message_id: _Optional[str] = ...) -> None: ...

class SelectBranchRequest(_message.Message):
    __slots__ = ("conversation_id", "leaf_message_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    LEAF_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    leaf_message_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., leaf_message_id: _Optional[str] = ...) -> None: ...

class SelectBranchResponse(_message.Message):
    __slots__ = ("conversation_id", "leaf_message_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    LEAF_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    leaf_message_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., leaf_message_id: _Optional[str] = ...) -> None: ...
