"""Sources: one module per format or network; see :mod:`perron.sources.base`."""
