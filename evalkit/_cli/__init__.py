"""Sub-commands of the ``evalkit`` command, one module each (``add_parser``, ``run``)."""
