"""Text helpers every stage may use, below all of them: sentence boundaries (``sentences``, spaCy
loaded once), page offsets of paged documents (``pages``), answer words compared the SQuAD way
(``normalize``) and the checks on what crosses into the library (``validate``).

May import: only the foundation (``qa.types``, ``qa.settings``, ``qa.errors``, ``qa.imports``)."""
