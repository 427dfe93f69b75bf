"""Cite: the reader's candidate spans into answers, one per meaning, each citing every document that
states it and the sentence that holds it (``answers``).

May import: ``qa.read`` (its grouping of spans by meaning) and the foundation."""
