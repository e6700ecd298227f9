"""The monitoring service (DESIGN.md §6): live ingestion, streaming scoring through the bundle, alarms.

Owns: the FastAPI app (:func:`omnimaint.service.app.create_app`), its settings, the live store (SQLAlchemy,
Alembic migrations; SQLite by default, PostgreSQL for a plant), ingestion (REST, MQTT, OPC UA), the streaming
scorer, the alarm engine, API keys and the replay client.

Must not import :mod:`omnimaint.training` or :mod:`omnimaint.evaluation`, and never re-implements windowing
or preprocessing: the scorer hands rows from the store to the bundle's
:class:`~omnimaint.inference.predictor.Predictor` through :class:`~omnimaint.data.dataset.MemoryDataset`.
"""
