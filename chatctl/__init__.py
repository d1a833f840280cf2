"""``chatctl``: a command-line client of the chat platform, built only on its public contract
(auth REST, chat REST, the chat websocket, ``chat.ChatService`` over gRPC)."""
