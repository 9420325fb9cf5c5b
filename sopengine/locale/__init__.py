"""The message catalogues: ``<lang>/LC_MESSAGES/sopengine.po`` (kept in the repository) and its
compiled ``.mo`` (built into the wheel; ``python -m sopengine.locale compile`` makes it in a
source checkout). :mod:`sopengine.locale.catalog` extracts, updates, compiles and checks them."""
