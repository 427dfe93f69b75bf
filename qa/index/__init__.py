"""Index: documents into chunks of whole sentences (``chunk``), chunks into vectors (``embed``,
also the query encoder that retrieval uses), and the write path that puts both into a store, a
batch per transaction (``writer``), locally or on a Ray cluster (``ray_engine``).

May import: ``qa.ingest`` and ``qa.store`` (the write path loads files and writes the store), and
the foundation (``qa.text``, ``qa.types``, ``qa.settings``, ``qa.errors``, ``qa.cores``)."""
