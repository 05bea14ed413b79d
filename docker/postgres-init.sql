-- Run once by the postgres image when its data volume is empty: a database per service, owned by the stack's role.
CREATE DATABASE prefect;
CREATE DATABASE mlflow;
CREATE DATABASE mlflow_auth;
-- Prefect's full-text search of flow runs and logs needs trigram indexes.
\connect prefect
CREATE EXTENSION IF NOT EXISTS pg_trgm;
