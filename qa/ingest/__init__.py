"""Load: files and records in, ``Document`` out (``load``), with the article's own text cleaned of
page furniture by marking, never rewriting (``clean``), its title, date and source read from the
text (``metadata``), and the formats whose text must be extracted first (``loaders``: web pages,
PDF, Word).

May import: ``qa.text``, ``qa.types``, ``qa.errors``, ``qa.settings``; nothing of a later stage."""
