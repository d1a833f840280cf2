"""The web chat page (``/app/``): one Django template and plain JavaScript, built only on the
public contract (auth REST, chat REST, the chat websocket)."""
