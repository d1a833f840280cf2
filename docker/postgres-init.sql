-- First start of the compose PostgreSQL: each service has its own database.
-- POSTGRES_DB creates `auth`; this adds `chat`.
CREATE DATABASE chat OWNER chatai;
