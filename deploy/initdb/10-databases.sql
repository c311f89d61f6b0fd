-- First start of the PostgreSQL container: the card store and Rasa's tracker store beside the
-- service database (POSTGRES_DB). Tables come from `python -m api migrate` (Alembic) and Rasa.
CREATE DATABASE cardbot_cards OWNER cardbot;
CREATE DATABASE cardbot_tracker OWNER cardbot;
