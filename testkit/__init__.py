"""Tools for the test suites and the bench, never shipped in the image: a fake
OpenAI-compatible model server (``fake_openai``) and helpers that start the services as
real processes (``processes``)."""
