"""``python -m sopengine.locale update|compile|check`` (needs Babel: ``pip install '.[test]'``)."""

from sopengine.locale.catalog import main

main()
